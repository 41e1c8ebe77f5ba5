import { validateSettingsPatch, DEFAULT_SETTINGS } from '../contract/settings';
import type { AgentSettings, SettingsError } from '../contract/ui-contract';

/** What the settings repository needs of electron-store; tests pass a plain fake. */
export interface SettingsBackend {
  /** Everything stored, possibly with keys this version does not know. */
  readonly store: object;
  set(values: Partial<AgentSettings>): void;
}

export class SettingsRejectedError extends Error {
  constructor(readonly errors: SettingsError[]) {
    super(`settings rejected: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    this.name = 'SettingsRejectedError';
  }
}

/** Reads and writes AgentSettings, checked with the contract's rules on the way in and out. */
export class SettingsRepository {
  constructor(private readonly backend: SettingsBackend) {}

  /** Stored values that still validate, over the defaults; anything else falls back to default. */
  load(): AgentSettings {
    const settings: AgentSettings = { ...DEFAULT_SETTINGS };
    const stored = this.backend.store as Readonly<Record<string, unknown>>;
    for (const key of Object.keys(DEFAULT_SETTINGS) as Array<keyof AgentSettings>) {
      if (!(key in stored)) continue;
      const value = stored[key];
      if (validateSettingsPatch({ [key]: value }).length === 0) {
        (settings as unknown as Record<string, unknown>)[key] = value;
      }
    }
    return settings;
  }

  /** Persists a full settings object; throws SettingsRejectedError and writes nothing if invalid. */
  save(settings: AgentSettings): void {
    const errors = validateSettingsPatch(settings as unknown as Record<string, unknown>);
    if (errors.length > 0) throw new SettingsRejectedError(errors);
    this.backend.set(settings);
  }
}
