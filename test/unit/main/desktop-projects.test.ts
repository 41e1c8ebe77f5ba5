import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import { desktopProjectSet, safeStorageSealer } from '@copilot/main/desktop-projects';
import { SettingsRepository, type SecretStorage } from '@copilot/main/settings-repository';
import { fileProjectStore, PROJECTS_FILE } from '@copilot/core/project-store';
import type { Agent } from '@copilot/core/agent-options';
import { createFakeAgent } from './fake-agent';

/** safeStorage's stand-in: reversible, and visibly not the plain text. */
function fakeSafeStorage(available = true): SecretStorage {
  return {
    isEncryptionAvailable: () => available,
    encryptString: (text) => Buffer.from(`sealed:${text}`).reverse(),
    decryptString: (buffer) =>
      Buffer.from(buffer)
        .reverse()
        .toString()
        .replace(/^sealed:/, ''),
  };
}

let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'desktop-projects-'));
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('desktop projects', () => {
  it("seals the other projects' passwords with safeStorage in projects.json", () => {
    const store = fileProjectStore(dataDir, { secrets: safeStorageSealer(fakeSafeStorage()) });
    store.save([
      { id: 'main', share: 100, paused: false },
      { id: 'b2', share: 100, paused: false, settings: { xmppPassword: 'desk-pw-2' } },
    ]);
    expect(fs.readFileSync(path.join(dataDir, PROJECTS_FILE), 'utf8')).not.toContain('desk-pw-2');
    expect(store.load()[1]?.settings?.xmppPassword).toBe('desk-pw-2');
    // No keyring: kept plain in the 0600 file, as the settings store does.
    expect(safeStorageSealer(fakeSafeStorage(false)).seal('x')).toBeUndefined();
  });

  it('runs a project set whose first project, once detached, loses its sealed password', async () => {
    const backend = {
      store: {} as Record<string, unknown>,
      set: (v: object) => Object.assign(backend.store, v),
    };
    const settings = new SettingsRepository(backend, { secrets: fakeSafeStorage() });
    settings.save({
      ...DEFAULT_SETTINGS,
      jobManagerAddress: 'jm@one.example',
      xmppPassword: 'pw1',
    });
    expect(backend.store.xmppPasswordEncrypted).not.toBe('');
    const factory = desktopProjectSet(
      (options) => {
        const fake = createFakeAgent(options);
        const logger = { child: () => logger, info: () => undefined, warn: () => undefined };
        return { ...fake, logger, refreshPolicy: () => undefined } as unknown as Agent;
      },
      { secrets: fakeSafeStorage(), settings },
    );
    const set = factory({ settings: settings.load(), dataDir });
    await set.start();
    await set.commands.detachProject('main', 'abort');
    await vi.waitUntil(() => backend.store.xmppPasswordEncrypted === '');
    expect(backend.store.xmppPassword).toBe('');
    expect(settings.load().xmppPassword).toBe('');
  });
});
