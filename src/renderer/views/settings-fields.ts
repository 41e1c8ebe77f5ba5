import { SETTING_KEYS } from '../../contract/settings';
import { keysWhere, type AnySettingsSpec } from '../../contract/settings-derive';
import {
  SETTINGS_GROUP_TITLES,
  SETTINGS_SPEC,
  type SettingSpec,
  type SettingsGroupId,
} from '../../contract/settings-spec';
import type { AgentSettings } from '../../contract/ui-contract';

export type FieldKind = 'text' | 'password' | 'number' | 'checkbox' | 'textarea';

export interface FieldSpec {
  key: keyof AgentSettings;
  label: string;
  kind: FieldKind;
  hint?: string;
  unit?: string;
  placeholder?: string;
  /** The field is disabled while this (boolean) setting is off in the form. */
  enabledBy?: keyof AgentSettings;
}

export interface FieldGroup {
  title: string;
  fields: FieldSpec[];
}

const KIND_OF_TYPE: Readonly<Record<SettingSpec['type'], FieldKind>> = {
  text: 'text',
  secret: 'password',
  'pem-file': 'textarea',
  integer: 'number',
  number: 'number',
  boolean: 'checkbox',
};

/** The form of a spec: its groups in order, each with its entries in the spec's order. */
export function settingsGroupsOf(spec: AnySettingsSpec): FieldGroup[] {
  const groups = new Map<SettingsGroupId, FieldSpec[]>(
    Object.keys(SETTINGS_GROUP_TITLES).map((id) => [id as SettingsGroupId, []]),
  );
  for (const [key, entry] of Object.entries(spec)) {
    if (entry.form === undefined) continue;
    const { group, enabledBy, ...shown } = entry.form;
    const kind = KIND_OF_TYPE[entry.type];
    const field: FieldSpec = {
      key: key as keyof AgentSettings,
      label: entry.label,
      kind,
      ...shown,
    };
    if (enabledBy !== undefined) field.enabledBy = enabledBy as keyof AgentSettings;
    groups.get(group)?.push(field);
  }
  return [...groups].map(([id, fields]) => ({ title: SETTINGS_GROUP_TITLES[id], fields }));
}

/**
 * The settings form, grouped as a volunteer thinks about it (from the settings spec). `paused`
 * is the Pause button.
 */
export const SETTINGS_GROUPS: readonly FieldGroup[] = settingsGroupsOf(SETTINGS_SPEC);

export type Draft = Record<keyof AgentSettings, string | boolean>;

/** The form's values: every setting (not read-only extras such as `xmppPasswordSet`) as text. */
export function toDraft(settings: AgentSettings): Draft {
  const draft = {} as Draft;
  for (const key of SETTING_KEYS) {
    const value = settings[key];
    draft[key] = typeof value === 'number' ? String(value) : value;
  }
  return draft;
}

const NUMBER_KEYS: ReadonlySet<string> = new Set(
  keysWhere(SETTINGS_SPEC, (entry) => KIND_OF_TYPE[entry.type] === 'number'),
);

/** What the form value means as a setting: numbers parsed (blank is NaN, so it is rejected). */
export function draftValue(key: keyof AgentSettings, raw: string | boolean): unknown {
  if (typeof raw === 'boolean') return raw;
  if (NUMBER_KEYS.has(key)) return raw.trim() === '' ? Number.NaN : Number(raw);
  return raw;
}
