import Store from 'electron-store';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, validateSettingsPatch } from '../contract/settings';
import type { AgentSettings } from '../contract/ui-contract';
import { ENCRYPTED_PASSWORD_KEY, type StoredSettings } from './settings-repository';
import { BASE64_PATTERN, settingsSchema } from './settings-schema';

/** Keys older builds wrote, and what they are called now. Applied by the 0.1.0 migration. */
export const RENAMED_KEYS_0_1_0: Readonly<Record<string, keyof AgentSettings>> = {
  managerJid: 'jobManagerAddress',
  cpuPercent: 'cpuLimitPercent',
};

interface LegacyStore {
  has(key: string): boolean;
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(key: string): void;
}

/** Renames old keys; an old value that no longer validates is dropped, so the default applies. */
export function migrateTo010(store: LegacyStore): void {
  for (const [oldKey, newKey] of Object.entries(RENAMED_KEYS_0_1_0)) {
    if (!store.has(oldKey)) continue;
    const value = store.get(oldKey);
    store.delete(oldKey);
    if (validateSettingsPatch({ [newKey]: value }).length === 0) store.set(newKey, value);
  }
}

/** Whether a stored value for a key the settings rules do not know is still good. */
function validExtraValue(key: string, value: unknown): boolean {
  if (key !== ENCRYPTED_PASSWORD_KEY) return true;
  return typeof value === 'string' && new RegExp(BASE64_PATTERN).test(value);
}

export const SETTINGS_FILE = 'settings.json';

/**
 * Drops stored settings that no longer validate (say, edited by hand), keeping the rest and
 * electron-store's own bookkeeping. Without this the schema check would throw at start-up, or,
 * with clearInvalidConfig, wipe every setting for one bad value. Returns the keys dropped.
 */
export function repairSettingsFile(file: string): string[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return []; // missing, or not JSON: electron-store starts afresh (clearInvalidConfig)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return [];
  const stored = data as Record<string, unknown>;
  const dropped = Object.keys(stored).filter((key) =>
    key in DEFAULT_SETTINGS
      ? validateSettingsPatch({ [key]: stored[key] }).length > 0
      : !validExtraValue(key, stored[key]),
  );
  if (dropped.length === 0) return [];
  const kept = Object.fromEntries(Object.entries(stored).filter(([key]) => !dropped.includes(key)));
  writeFileSync(file, JSON.stringify(kept, null, '\t'));
  return dropped;
}

export interface ElectronSettingsStoreOptions {
  /** The app version (`app.getVersion()`); migrations are keyed by it. */
  projectVersion: string;
  /** Absolute directory of settings.json (the app's userData directory). */
  cwd: string;
  log?: (message: string) => void;
}

export function createElectronSettingsStore(
  options: ElectronSettingsStoreOptions,
): Store<StoredSettings> {
  const dropped = repairSettingsFile(join(options.cwd, SETTINGS_FILE));
  if (dropped.length > 0) {
    options.log?.(
      `settings: dropped invalid stored values (${dropped.join(', ')}); defaults apply`,
    );
  }
  return new Store<StoredSettings>({
    name: SETTINGS_FILE.replace(/\.json$/, ''),
    cwd: options.cwd,
    schema: settingsSchema(),
    projectVersion: options.projectVersion,
    migrations: {
      '0.1.0': (store) => migrateTo010(store as unknown as LegacyStore),
    },
    clearInvalidConfig: true,
  });
}
