/**
 * Reading a settings spec (settings-spec.ts): defaults, field lists and the check of one value.
 * Each function takes the spec, so a test can show that a new entry reaches every derived place;
 * settings.ts applies them to SETTINGS_SPEC.
 */
import { checkText } from './settings-checks';
import type { SettingSpec } from './settings-spec';

/** Any settings spec, as the derivations read it. */
export type AnySettingsSpec = Readonly<Record<string, SettingSpec>>;
export type SettingValue = string | number | boolean;

/** One value per entry, in the spec's order. */
export function mapSpec<T>(
  spec: AnySettingsSpec,
  pick: (entry: SettingSpec, key: string) => T,
): Record<string, T> {
  return Object.fromEntries(Object.entries(spec).map(([key, entry]) => [key, pick(entry, key)]));
}

/** The keys of the entries that pass `test`, in the spec's order. */
export function keysWhere(spec: AnySettingsSpec, test: (entry: SettingSpec) => boolean): string[] {
  return Object.entries(spec)
    .filter(([, entry]) => test(entry))
    .map(([key]) => key);
}

/** What a headless agent starts with when its config does not set the setting. */
export function headlessDefaultOf(entry: SettingSpec): SettingValue {
  return entry.type === 'boolean' ? (entry.headlessDefault ?? entry.default) : entry.default;
}

export function defaultsOf(
  spec: AnySettingsSpec,
  where: 'desktop' | 'headless' = 'desktop',
): Record<string, SettingValue> {
  return mapSpec(spec, (entry) =>
    where === 'headless' ? headlessDefaultOf(entry) : entry.default,
  );
}

/** What is wrong with `value` for the setting `key`, or null. Text is checked trimmed. */
export function settingProblem(key: string, entry: SettingSpec, value: unknown): string | null {
  switch (entry.type) {
    case 'integer':
    case 'number': {
      const label = entry.errorLabel ?? entry.label;
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${label} must be a number`;
      if (entry.type === 'integer' && !Number.isInteger(value)) {
        return `${label} must be a whole number`;
      }
      if (value < entry.min || value > entry.max) {
        return `${label} must be between ${entry.min} and ${entry.max}`;
      }
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : `${key} must be true or false`;
    case 'secret':
      return typeof value === 'string' ? null : `${key} must be text`;
    case 'text':
    case 'pem-file':
      return typeof value === 'string'
        ? checkText(entry.check, value.trim())
        : `${key} must be text`;
  }
}

/**
 * Checks a patch field by field against a spec. Unknown fields and wrong types are errors, so that
 * a buggy or hostile UI cannot store garbage.
 */
export function patchProblems(
  spec: AnySettingsSpec,
  patch: Readonly<Record<string, unknown>>,
): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  for (const [field, value] of Object.entries(patch)) {
    // Own keys only: `in` would also accept 'constructor', 'toString', '__proto__'.
    const entry = Object.hasOwn(spec, field) ? spec[field] : undefined;
    const message = entry ? settingProblem(field, entry, value) : `unknown setting '${field}'`;
    if (message !== null) problems.push({ field, message });
  }
  return problems;
}
