/**
 * The settings rules, all derived from SETTINGS_SPEC (settings-spec.ts): defaults, the fields that
 * reconnect or are secret, and the checks every host (Electron main, the headless agent, the
 * settings form) applies to a settings patch.
 */
import { defaultsOf, keysWhere, patchProblems } from './settings-derive';
import { SETTINGS_SPEC, type SettingKey, type SettingKeyOfType } from './settings-spec';
import type { AgentSettings, PublicSettings, SettingsError } from './ui-contract';

/** Every setting, in the spec's (the form's) order. */
export const SETTING_KEYS = Object.keys(SETTINGS_SPEC) as readonly SettingKey[];

/** Defaults a fresh install starts with: half the CPU, only when idle, one job at a time. */
export const DEFAULT_SETTINGS = defaultsOf(SETTINGS_SPEC) as AgentSettings;

/** Defaults of the headless agent, where they differ: no idle wait, no start at login. */
export const HEADLESS_DEFAULT_SETTINGS = defaultsOf(SETTINGS_SPEC, 'headless') as AgentSettings;

/**
 * Settings the UI may write but never read back. getSettings blanks them (publicSettings), and an
 * empty value in a patch keeps the stored one, so a form can leave the field empty.
 */
export const SECRET_FIELDS = keysWhere(
  SETTINGS_SPEC,
  (entry) => entry.type === 'secret',
) as ReadonlyArray<SettingKeyOfType<'secret'>>;
const SECRETS: ReadonlySet<string> = new Set(SECRET_FIELDS);

/** Settings that make up the XMPP connection: changing one means reconnecting. */
export const CONNECTION_FIELDS = keysWhere(
  SETTINGS_SPEC,
  (entry) => entry.reconnects === true,
) as ReadonlyArray<keyof AgentSettings>;

/** The settings as the UI sees them (getSettings, setSettings' result): no secret in them. */
export function publicSettings(settings: AgentSettings): PublicSettings {
  const shown: Record<string, unknown> = { ...settings };
  for (const field of SECRET_FIELDS) {
    shown[field] = '';
    shown[`${field}Set`] = settings[field] !== '';
  }
  return shown as PublicSettings;
}

/**
 * Checks a settings patch field by field. Unknown fields and wrong types are errors, so that a
 * buggy or hostile UI cannot store garbage.
 */
export function validateSettingsPatch(patch: Readonly<Record<string, unknown>>): SettingsError[] {
  // A field is a setting's name, or the unknown name an error is about.
  return patchProblems(SETTINGS_SPEC, patch) as SettingsError[];
}

export function applySettingsPatch(
  current: AgentSettings,
  patch: Partial<AgentSettings>,
): { settings: AgentSettings; errors: SettingsError[] } {
  const errors = validateSettingsPatch(patch);
  if (errors.length > 0) return { settings: current, errors };
  const trimmed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(patch)) {
    if (SECRETS.has(name)) {
      // Empty keeps the current secret; a new one is taken as typed (spaces may be part of it).
      if (value !== '') trimmed[name] = value;
      continue;
    }
    trimmed[name] = typeof value === 'string' ? value.trim() : value;
  }
  const settings: AgentSettings = { ...current, ...(trimmed as Partial<AgentSettings>) };
  if (settings.secureMode && settings.jobManagerPublicKey === '') {
    const message = "secure mode needs the job manager's public key";
    return { settings: current, errors: [{ field: 'jobManagerPublicKey', message }] };
  }
  return { settings, errors };
}
