import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../src/contract/settings';
import type { AgentSettings } from '../../../src/contract/ui-contract';
import {
  SettingsRejectedError,
  SettingsRepository,
  type SettingsBackend,
} from '../../../src/main/settings-repository';
import type { createElectronSettingsStore as CreateStore } from '../../../src/main/settings-store';

// electron-store reads `app` and `ipcMain` from the electron module. Outside Electron, the
// `electron` package only exports the binary's path, so give it one that needs no download:
// electron-store then sees no app and uses the absolute `cwd` given to it.
process.env.ELECTRON_OVERRIDE_DIST_PATH ??= join(tmpdir(), 'no-electron-binary');
let createElectronSettingsStore: typeof CreateStore;
beforeAll(async () => {
  ({ createElectronSettingsStore } = await import('../../../src/main/settings-store'));
});

class FakeBackend implements SettingsBackend {
  store: Record<string, unknown> = {};
  writes = 0;
  set(values: Partial<AgentSettings>): void {
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
});
