/**
 * The headless agent's settings from its configuration (report 4.3.2), as the settings spec says:
 * each entry's config variable, read by its type (a PEM file variable names the file to read), or
 * the headless default where the entry has no variable or the config leaves it unset.
 */
import {
  headlessDefaultOf,
  mapSpec,
  type AnySettingsSpec,
  type SettingValue,
} from '../contract/settings-derive';
import { SETTINGS_SPEC, type SettingSpec } from '../contract/settings-spec';
import { ConfigError, type ConfigValues } from '../protocol/config-file';
import { errorMessage } from '../base/errors';

export type ReadFile = (file: string) => string;

/** The variable that sets a setting, for error messages; the setting's name if none does. */
export function settingVariable(field: string, spec: AnySettingsSpec = SETTINGS_SPEC): string {
  const entry = Object.hasOwn(spec, field) ? spec[field] : undefined;
  return entry?.config?.variable ?? field;
}

/** The content of the file a variable names (trimmed), e.g. a PEM key; undefined when unset. */
function fileNamedBy(
  values: ConfigValues,
  readFile: ReadFile,
  variable: string,
): string | undefined {
  const file = values.optional(variable);
  if (file === undefined) return undefined;
  try {
    return readFile(file).trim();
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${file}: ${errorMessage(error)}`, variable);
  }
}

function readSetting(values: ConfigValues, readFile: ReadFile, entry: SettingSpec): SettingValue {
  const fallback = headlessDefaultOf(entry);
  if (entry.config === undefined) return fallback;
  const { variable, required } = entry.config;
  if (required !== undefined) values.required(variable, required === true ? undefined : required);
  switch (entry.type) {
    case 'integer':
      return values.integer(variable, entry.default, { min: entry.min, max: entry.max });
    case 'number':
      return values.number(variable, entry.default, { min: entry.min, max: entry.max });
    case 'boolean':
      return values.boolean(variable, entry.headlessDefault ?? entry.default);
    case 'pem-file':
      return fileNamedBy(values, readFile, variable) ?? entry.default;
    case 'text':
    case 'secret':
      return values.string(variable, entry.default);
  }
}

/**
 * Every setting of `spec`, read from the config. Throws ConfigError naming the variable when one
 * is required but unset, not of its type or out of its range, or names a file that cannot be read.
 * The values are not checked further: validateSettingsPatch does that.
 */
export function readConfigSettings(
  values: ConfigValues,
  readFile: ReadFile,
  spec: AnySettingsSpec = SETTINGS_SPEC,
): Record<string, SettingValue> {
  return mapSpec(spec, (entry) => readSetting(values, readFile, entry));
}
