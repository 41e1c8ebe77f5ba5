/**
 * The JSON schema electron-store checks settings.json with, derived from the settings spec
 * (src/contract/settings-spec.ts), plus the encrypted password (see SettingsRepository).
 */
import type { Schema } from 'electron-store';
import { mapSpec, type AnySettingsSpec } from '../contract/settings-derive';
import { SETTINGS_SPEC, type SettingSpec } from '../contract/settings-spec';
import { ENCRYPTED_PASSWORD_KEY, type StoredSettings } from './settings-repository';

/** Base64, as the encrypted password is stored. */
export const BASE64_PATTERN = '^[A-Za-z0-9+/]*={0,2}$';

/** One setting's JSON schema: its type, range and default. Text checks are validateSettingsPatch's. */
function propertySchema(entry: SettingSpec): object {
  switch (entry.type) {
    case 'integer':
    case 'number':
      return { type: entry.type, minimum: entry.min, maximum: entry.max, default: entry.default };
    case 'boolean':
      return { type: 'boolean', default: entry.default };
    default:
      return { type: 'string', default: entry.default };
  }
}

/** The schema of every setting in `spec`, and of the encrypted password beside them. */
export function settingsSchemaOf(spec: AnySettingsSpec): Record<string, object> {
  return {
    ...mapSpec(spec, propertySchema),
    [ENCRYPTED_PASSWORD_KEY]: { type: 'string', pattern: BASE64_PATTERN, default: '' },
  };
}

export function settingsSchema(): Schema<StoredSettings> {
  return settingsSchemaOf(SETTINGS_SPEC) as Schema<StoredSettings>;
}
