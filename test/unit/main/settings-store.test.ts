import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentSettings } from '@copilot/contract/ui-contract';
import {
  ENCRYPTED_PASSWORD_KEY,
  SettingsRejectedError,
  SettingsRepository,
  type SettingsBackend,
  type StoredSettings,
} from '@copilot/main/settings-repository';
import { FakeSafeStorage } from './fake-electron';
import type { createElectronSettingsStore as CreateStore } from '@copilot/main/settings-store';

// electron-store reads `app` and `ipcMain` from the electron module. Outside Electron, the
// `electron` package only exports the binary's path, so give it one that needs no download:
// electron-store then sees no app and uses the absolute `cwd` given to it.
process.env.ELECTRON_OVERRIDE_DIST_PATH ??= join(tmpdir(), 'no-electron-binary');
let createElectronSettingsStore: typeof CreateStore;
beforeAll(async () => {
  ({ createElectronSettingsStore } = await import('@copilot/main/settings-store'));
});

class FakeBackend implements SettingsBackend {
  store: Record<string, unknown> = {};
  writes = 0;
  set(values: Partial<StoredSettings>): void {
    this.writes++;
    this.store = { ...this.store, ...values };
  }
}

describe('SettingsRepository over a fake store', () => {
  it('loads defaults for an empty store and stored values over them', () => {
    const backend = new FakeBackend();
    const repo = new SettingsRepository(backend);
    expect(repo.load()).toEqual(DEFAULT_SETTINGS);
    backend.store = { jobSlots: 4, runOnlyWhenIdle: false, somethingOld: 1 };
    expect(repo.load()).toEqual({ ...DEFAULT_SETTINGS, jobSlots: 4, runOnlyWhenIdle: false });
  });

  it('saves valid settings and refuses invalid ones without writing', () => {
    const backend = new FakeBackend();
    const repo = new SettingsRepository(backend);
    repo.save({ ...DEFAULT_SETTINGS, memoryLimitMb: 4096 });
    expect(repo.load().memoryLimitMb).toBe(4096);
    expect(() => repo.save({ ...DEFAULT_SETTINGS, jobSlots: 0 })).toThrow(SettingsRejectedError);
    expect(() => repo.save({ ...DEFAULT_SETTINGS, xmppServer: 'not a host' })).toThrow(
      /xmppServer/,
    );
    expect(backend.writes).toBe(1);
    expect(repo.load().jobSlots).toBe(DEFAULT_SETTINGS.jobSlots);
  });
});

const PASSWORD = 'pa55 w0rd-ü';

describe('the password at rest (safeStorage)', () => {
  const withPassword: AgentSettings = { ...DEFAULT_SETTINGS, xmppPassword: PASSWORD };

  function repository(backend: SettingsBackend, secrets = new FakeSafeStorage()) {
    const messages: string[] = [];
    const repo = new SettingsRepository(backend, { secrets, log: (m) => messages.push(m) });
    return { repo, secrets, messages };
  }

  it('stores only base64 ciphertext where the OS can encrypt, and reads it back', () => {
    const backend = new FakeBackend();
    const { repo, messages } = repository(backend);
    repo.save(withPassword);
    expect(backend.store.xmppPassword).toBe('');
    const sealed = String(backend.store[ENCRYPTED_PASSWORD_KEY]);
    expect(sealed).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(JSON.stringify(backend.store)).not.toContain(PASSWORD);
    expect(repository(backend).repo.load().xmppPassword).toBe(PASSWORD);
    expect(messages).toEqual([]);
  });

  it('moves a plain password written by an older build into encrypted form on first load', () => {
    const backend = new FakeBackend();
    backend.store = { xmppPassword: PASSWORD, jobSlots: 2 };
    const { repo, messages } = repository(backend);
    expect(repo.load()).toMatchObject({ xmppPassword: PASSWORD, jobSlots: 2 });
    expect(backend.store.xmppPassword).toBe('');
    expect(JSON.stringify(backend.store)).not.toContain(PASSWORD);
    expect(messages).toEqual([
      'settings: the stored password is now encrypted with the system keyring',
    ]);
    expect(repository(backend).repo.load().xmppPassword).toBe(PASSWORD);
  });

  it('falls back to plain text only without encryption, says so once, and encrypts once it can', () => {
    const backend = new FakeBackend();
    const secrets = new FakeSafeStorage();
    secrets.available = false;
    const { repo, messages } = repository(backend, secrets);
    repo.save(withPassword);
    repo.save({ ...withPassword, jobSlots: 3 });
    expect(backend.store).toMatchObject({ xmppPassword: PASSWORD, [ENCRYPTED_PASSWORD_KEY]: '' });
    expect(messages).toEqual([
      'settings: the system offers no encryption (safeStorage); the XMPP password is stored as plain text in settings.json',
    ]);
    // No safeStorage at all (a test, an odd platform) is the same.
    const bare = new FakeBackend();
    new SettingsRepository(bare).save(withPassword);
    expect(bare.store.xmppPassword).toBe(PASSWORD);
    // The next start on a machine with a keyring encrypts it.
    secrets.available = true;
    expect(repository(backend, secrets).repo.load().xmppPassword).toBe(PASSWORD);
    expect(JSON.stringify(backend.store)).not.toContain(PASSWORD);
  });

  it('an unreadable ciphertext or a locked keyring gives no password and a warning, and keeps the ciphertext', () => {
    const backend = new FakeBackend();
    repository(backend).repo.save(withPassword);
    const sealed = backend.store[ENCRYPTED_PASSWORD_KEY];

    const locked = new FakeSafeStorage();
    locked.available = false;
    const first = repository(backend, locked);
    expect(first.repo.load().xmppPassword).toBe('');
    expect(first.messages.join()).toMatch(/encrypted, but the system keyring is not available/);
    // Saving other settings meanwhile neither loses the ciphertext nor writes a plain password.
    first.repo.save({ ...first.repo.load(), jobSlots: 4 });
    expect(backend.store).toMatchObject({ xmppPassword: '', [ENCRYPTED_PASSWORD_KEY]: sealed });

    backend.store[ENCRYPTED_PASSWORD_KEY] = Buffer.from('garbage').toString('base64');
    const second = repository(backend);
    expect(second.repo.load().xmppPassword).toBe('');
    expect(second.messages.join()).toMatch(/cannot be decrypted .*enter it again in Settings/);
  });

  it('warns that the basic_text backend (no keyring) is only obfuscation', () => {
    const secrets = new FakeSafeStorage();
    secrets.backend = 'basic_text';
    const { repo, messages } = repository(new FakeBackend(), secrets);
    repo.save(withPassword);
    expect(messages.join()).toMatch(/basic_text/);
  });
});

describe('electron-store with schema and migrations (real electron-store, temp dir)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'copilot-settings-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('persists across instances', () => {
    const repo = new SettingsRepository(
      createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir }),
    );
    repo.save({ ...DEFAULT_SETTINGS, cpuLimitPercent: 80, xmppDomain: 'example.org' });
    const again = new SettingsRepository(
      createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir }),
    );
    expect(again.load()).toEqual({
      ...DEFAULT_SETTINGS,
      cpuLimitPercent: 80,
      xmppDomain: 'example.org',
    });
    const file = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(file.cpuLimitPercent).toBe(80);
  });

  it('its schema rejects out-of-range and mistyped values', () => {
    const store = createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir });
    expect(() => store.set('cpuLimitPercent', 500)).toThrow(/cpuLimitPercent/);
    expect(() => store.set('jobSlots', 1.5)).toThrow(/jobSlots/);
    expect(() =>
      store.set({ runOnlyWhenIdle: 'yes' } as unknown as Partial<AgentSettings>),
    ).toThrow();
    expect(store.get('cpuLimitPercent')).toBe(DEFAULT_SETTINGS.cpuLimitPercent);
  });

  it('the 0.1.0 migration renames keys written by older builds', () => {
    writeFileSync(
      join(dir, 'settings.json'),
      JSON.stringify({ managerJid: 'jm@cern.ch', cpuPercent: 25, jobSlots: 2 }),
    );
    const store = createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir });
    const settings = new SettingsRepository(store).load();
    expect(settings.jobManagerAddress).toBe('jm@cern.ch');
    expect(settings.cpuLimitPercent).toBe(25);
    expect(settings.jobSlots).toBe(2);
    expect(store.store).not.toHaveProperty('managerJid');
    expect(store.store).not.toHaveProperty('cpuPercent');
  });

  it('drops only the stored values that no longer validate, keeping the others', () => {
    writeFileSync(
      join(dir, 'settings.json'),
      JSON.stringify({ cpuLimitPercent: 500, jobSlots: 3, xmppServer: 'bad host!' }),
    );
    const messages: string[] = [];
    const store = createElectronSettingsStore({
      projectVersion: '0.1.0',
      cwd: dir,
      log: (m) => messages.push(m),
    });
    const settings = new SettingsRepository(store).load();
    expect(settings.jobSlots).toBe(3);
    expect(settings.cpuLimitPercent).toBe(DEFAULT_SETTINGS.cpuLimitPercent);
    expect(settings.xmppServer).toBe('');
    expect(messages.join()).toMatch(/cpuLimitPercent, xmppServer/);
  });

  it('starts afresh from a file that is not JSON', () => {
    writeFileSync(join(dir, 'settings.json'), '{ not json');
    const store = createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir });
    expect(new SettingsRepository(store).load()).toEqual(DEFAULT_SETTINGS);
  });

  it('the migration drops an old value that no longer validates', () => {
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ cpuPercent: 900 }));
    const store = createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir });
    expect(new SettingsRepository(store).load().cpuLimitPercent).toBe(
      DEFAULT_SETTINGS.cpuLimitPercent,
    );
  });

  it('the settings file never holds the password where the OS encrypts; a plain one is migrated', () => {
    const file = join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify({ xmppPassword: PASSWORD, xmppUsername: 'bob' }));
    const secrets = new FakeSafeStorage();
    const open = () =>
      new SettingsRepository(createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir }), {
        secrets,
      });
    expect(open().load()).toMatchObject({ xmppPassword: PASSWORD, xmppUsername: 'bob' });
    expect(readFileSync(file, 'utf8')).not.toContain(PASSWORD);
    open().save({ ...DEFAULT_SETTINGS, xmppPassword: 'another secret' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('another secret');
    expect(JSON.parse(text)).toMatchObject({ xmppPassword: '' });
    expect(open().load().xmppPassword).toBe('another secret');
  });

  it('drops a stored ciphertext that is not base64 instead of failing to start', () => {
    writeFileSync(
      join(dir, 'settings.json'),
      JSON.stringify({ [ENCRYPTED_PASSWORD_KEY]: 'not base64!', jobSlots: 2 }),
    );
    const store = createElectronSettingsStore({ projectVersion: '0.1.0', cwd: dir });
    expect(new SettingsRepository(store).load()).toMatchObject({ jobSlots: 2, xmppPassword: '' });
    expect(store.store[ENCRYPTED_PASSWORD_KEY]).toBe('');
  });
});
