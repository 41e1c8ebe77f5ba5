import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_COMMAND_NAMES, ipcCommandChannel } from '@copilot/contract/ui-contract';
import { buildElectron } from '../../../scripts/build-electron';

const root = path.join(import.meta.dirname, '..', '..', '..');
const fakeRuntime = path.join(import.meta.dirname, 'fixtures', 'fake-electron-runtime.cjs');

interface Run {
  events: Array<Record<string, unknown>>;
  stderr: string;
}

/**
 * Runs the esbuild bundle of src/main/main.ts in plain Node with `electron` answered by a
 * recording stand-in: proves the bundle loads (ESM-only electron-store bundled as CommonJS), and
 * that main.ts wires the real createAgent, settings, tray, window and IPC.
 */
function runBundle(mainFile: string, userData: string, untilEvents: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', fakeRuntime, mainFile], {
      env: {
        ...process.env,
        FAKE_APP_PATH: root,
        FAKE_USER_DATA: path.join(userData, 'default-profile'),
        COPILOT_DESKTOP_USER_DATA: userData,
        XDG_CONFIG_HOME: path.join(userData, 'xdg'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { events: [], stderr: '' };
    let buffer = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.startsWith('FAKE-ELECTRON ')) {
          run.events.push(
            JSON.parse(line.slice('FAKE-ELECTRON '.length)) as Record<string, unknown>,
          );
        }
      }
      const sawStatus = run.events.some((e) => 'tooltip' in e && e.tooltip !== 'Co-Pilot Desktop');
      if (run.events.length >= untilEvents && sawStatus) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(run);
    });
  });
}

describe('the bundled main process (dist/main/main.cjs)', () => {
  let tmp: string;
  beforeAll(async () => {
    // Inside the repo (.tmp/ is git-ignored) so the bundle's externals resolve from node_modules.
    fs.mkdirSync(path.join(root, '.tmp'), { recursive: true });
    tmp = fs.mkdtempSync(path.join(root, '.tmp', 'main-bundle-'));
    await buildElectron(path.join(tmp, 'dist'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('starts the real agent behind the tray, the window and every IPC command', async () => {
    const userData = path.join(tmp, 'user-data');
    // A password an older build stored in clear: the first start moves it to safeStorage.
    const settingsFile = path.join(userData, 'settings.json');
    fs.mkdirSync(userData, { recursive: true });
    fs.writeFileSync(settingsFile, JSON.stringify({ xmppPassword: 'bundle-secret-pw' }));
    const run = await runBundle(path.join(tmp, 'dist', 'main', 'main.cjs'), userData, 12);
    const find = <K extends string>(key: K) =>
      run.events.filter((e) => key in e).map((e) => e[key]);

    expect(find('exit'), run.stderr).toEqual([]);
    expect(find('handle').sort()).toEqual(UI_COMMAND_NAMES.map(ipcCommandChannel).sort());
    const [trayIcon] = find('tray') as string[];
    expect(trayIcon).toBe(path.join(root, 'assets', 'tray', 'tray-idle.png'));
    expect(fs.existsSync(trayIcon ?? '')).toBe(true);
    const [window] = find('window') as Array<{ webPreferences: Record<string, unknown> }>;
    expect(window?.webPreferences).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      preload: path.join(tmp, 'dist', 'preload', 'preload.cjs'),
    });
    expect(fs.existsSync(String(window?.webPreferences.preload))).toBe(true);
    expect(find('loadFile')).toEqual([path.join(tmp, 'dist', 'renderer', 'index.html')]);
    // Defaults start at login; the real agent, unconfigured, says so in the tray.
    expect(find('loginItem')).toContainEqual({ openAtLogin: true, args: ['--hidden'] });
    expect(fs.existsSync(path.join(userData, 'xdg', 'autostart', 'co-pilot-desktop.desktop'))).toBe(
      process.platform === 'linux',
    );
    const tooltips = find('tooltip') as string[];
    expect(tooltips.at(-1)).toMatch(/^Co-Pilot Desktop: .+/);
    expect(fs.existsSync(path.join(userData, 'agent'))).toBe(true);
    const stored = fs.readFileSync(settingsFile, 'utf8');
    expect(stored).not.toContain('bundle-secret-pw');
    expect(JSON.parse(stored)).toMatchObject({ xmppPassword: '' });
    expect((JSON.parse(stored) as Record<string, unknown>).xmppPasswordEncrypted).toMatch(
      /^[A-Za-z0-9+/]+=*$/,
    );
  });
});
