import type { SafeStorage } from 'electron';
import { validateSettingsPatch, DEFAULT_SETTINGS } from '../contract/settings';
import type { AgentSettings, SettingsError } from '../contract/ui-contract';
import { errorMessage } from '../base/errors';

/**
 * Where the XMPP password is kept when the OS can encrypt it: base64 of safeStorage's ciphertext.
 * The plain `xmppPassword` key is then always empty.
 */
export const ENCRYPTED_PASSWORD_KEY = 'xmppPasswordEncrypted';

/** What the settings file holds: the settings, and the encrypted password beside them. */
export type StoredSettings = AgentSettings & { [ENCRYPTED_PASSWORD_KEY]: string };

/** What the settings repository needs of electron-store; tests pass a plain fake. */
export interface SettingsBackend {
  /** Everything stored, possibly with keys this version does not know. */
  readonly store: object;
  set(values: Partial<StoredSettings>): void;
}

/** Electron's safeStorage, as far as the repository uses it; tests pass a stand-in. */
export type SecretStorage = Pick<
  SafeStorage,
  'isEncryptionAvailable' | 'encryptString' | 'decryptString'
> &
  Partial<Pick<SafeStorage, 'getSelectedStorageBackend'>>;

export interface SettingsRepositoryOptions {
  /**
   * Encrypts the password at rest (Electron's `safeStorage`: Keychain, DPAPI, libsecret/kwallet).
   * Without it, or while it says encryption is unavailable, the password is stored as plain text
   * and `log` is told so.
   */
  secrets?: SecretStorage;
  log?: (message: string) => void;
}

export class SettingsRejectedError extends Error {
  constructor(readonly errors: SettingsError[]) {
    super(`settings rejected: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    this.name = 'SettingsRejectedError';
  }
}

/**
 * Reads and writes AgentSettings, checked with the contract's rules on the way in and out. The
 * password is stored encrypted with safeStorage where the OS offers it; a plain password from an
 * older build is moved into encrypted form on the first load (after `app` is ready, which
 * safeStorage needs on Linux and Windows).
 */
export class SettingsRepository {
  private readonly secrets: SecretStorage | undefined;
  private readonly log: (message: string) => void;
  private readonly warned = new Set<string>();
  /** The last password sealed or unsealed, so that saving other settings does not re-encrypt. */
  private sealed: { plain: string; base64: string } | undefined;

  constructor(
    private readonly backend: SettingsBackend,
    options: SettingsRepositoryOptions = {},
  ) {
    this.secrets = options.secrets;
    this.log = options.log ?? (() => undefined);
  }

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
    const encrypted = stored[ENCRYPTED_PASSWORD_KEY];
    if (settings.xmppPassword !== '') {
      // save() never leaves a plain password beside a ciphertext: this one was written by an
      // older build (or without a keyring), so it is the current one.
      this.migratePlainPassword(settings.xmppPassword);
    } else if (typeof encrypted === 'string' && encrypted !== '') {
      settings.xmppPassword = this.unseal(encrypted);
    }
    return settings;
  }

  /** Persists a full settings object; throws SettingsRejectedError and writes nothing if invalid. */
  save(settings: AgentSettings): void {
    const errors = validateSettingsPatch(settings);
    if (errors.length > 0) throw new SettingsRejectedError(errors);
    const { xmppPassword: password, ...rest } = settings;
    if (password === '') {
      // No password, or one that could not be decrypted: leave whatever ciphertext is stored.
      this.backend.set({ ...rest, xmppPassword: '' });
      return;
    }
    const encrypted = this.seal(password);
    if (encrypted !== undefined) {
      this.backend.set({ ...rest, xmppPassword: '', [ENCRYPTED_PASSWORD_KEY]: encrypted });
    } else {
      this.warnPlainText();
      this.backend.set({ ...rest, xmppPassword: password, [ENCRYPTED_PASSWORD_KEY]: '' });
    }
  }

  /** Removes the stored password, plain or sealed (the first project was detached). */
  forgetPassword(): void {
    this.sealed = undefined;
    this.backend.set({ xmppPassword: '', [ENCRYPTED_PASSWORD_KEY]: '' });
  }

  /** safeStorage, if the OS offers encryption now (on Linux and Windows: once `app` is ready). */
  private availableSecrets(): SecretStorage | undefined {
    const secrets = this.secrets;
    if (!secrets) return undefined;
    try {
      if (!secrets.isEncryptionAvailable()) return undefined;
    } catch {
      return undefined;
    }
    if (secrets.getSelectedStorageBackend?.() === 'basic_text') {
      this.warnOnce(
        'settings: no keyring found (safeStorage backend basic_text); the password is encrypted with a fixed key only',
      );
    }
    return secrets;
  }

  /** Base64 of the encrypted password; undefined when the OS cannot encrypt (said in the log). */
  private seal(password: string): string | undefined {
    if (this.sealed?.plain === password) return this.sealed.base64;
    const secrets = this.availableSecrets();
    if (!secrets) return undefined;
    try {
      const base64 = secrets.encryptString(password).toString('base64');
      this.sealed = { plain: password, base64 };
      return base64;
    } catch (error) {
      this.warnOnce(`settings: the password cannot be encrypted (${errorMessage(error)})`);
      return undefined;
    }
  }

  private unseal(base64: string): string {
    if (this.sealed?.base64 === base64) return this.sealed.plain;
    const secrets = this.availableSecrets();
    if (!secrets) {
      this.warnOnce(
        'settings: the stored password is encrypted, but the system keyring is not available now; enter the password again in Settings',
      );
      return '';
    }
    try {
      const plain = secrets.decryptString(Buffer.from(base64, 'base64'));
      this.sealed = { plain, base64 };
      return plain;
    } catch (error) {
      this.warnOnce(
        `settings: the stored password cannot be decrypted (${errorMessage(error)}); enter it again in Settings`,
      );
      return '';
    }
  }

  /** A password an older build (or a machine without a keyring) stored as plain text. */
  private migratePlainPassword(password: string): void {
    const encrypted = this.seal(password);
    if (encrypted === undefined) {
      this.warnPlainText();
      return;
    }
    this.backend.set({ xmppPassword: '', [ENCRYPTED_PASSWORD_KEY]: encrypted });
    this.log('settings: the stored password is now encrypted with the system keyring');
  }

  private warnPlainText(): void {
    this.warnOnce(
      'settings: the system offers no encryption (safeStorage); the XMPP password is stored as plain text in settings.json',
    );
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.log(message);
  }
}
