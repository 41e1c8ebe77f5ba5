import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  UI_COMMAND_NAMES,
  ipcCommandChannel,
  ipcEventChannel,
  type LogEntry,
  type RunningJob,
} from '@copilot/contract/ui-contract';
import type { MenuItemConstructorOptions } from 'electron';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import { startDesktopApp, type DesktopApp } from '@copilot/main/desktop-app';
import {
  ENCRYPTED_PASSWORD_KEY,
  SettingsRepository,
  type SettingsBackend,
  type StoredSettings,
} from '@copilot/main/settings-repository';
import { createFakeAgent, type FakeAgent } from './fake-agent';
import { FakeBrowserWindow, FakeNotification, FakeTray, fake } from './fake-electron';

vi.mock('electron', () => import('./fake-electron'));

class MemoryBackend implements SettingsBackend {
  store: Record<string, unknown> = {};
  set(values: Partial<StoredSettings>): void {
    this.store = { ...this.store, ...values };
  }
}

interface Started {
  desktop: DesktopApp;
  agent: FakeAgent;
  backend: MemoryBackend;
  tray: FakeTray;
  window: FakeBrowserWindow;
}

async function start(
  stored: Record<string, unknown> = {},
  extra: { startHidden?: boolean; stopTimeoutMs?: number } = {},
): Promise<Started> {
  const backend = new MemoryBackend();
  backend.store = stored;
  let agent: FakeAgent | undefined;
  const desktop = await startDesktopApp({
    createAgent: (options) => (agent = createFakeAgent(options)),
    settings: new SettingsRepository(backend, { secrets: fake.safeStorage }),
    paths: {
      preload: '/app/dist/preload/preload.cjs',
      renderer: { file: '/app/dist/renderer/index.html' },
      trayIconDir: '/app/assets/tray',
      appIcon: '/app/assets/icon.png',
      dataDir: '/tmp/agent',
    },
    startHidden: extra.startHidden ?? false,
    loginItem: { platform: 'darwin', executable: '/app/copilot', xdgConfigHome: '/nonexistent' },
    idlePollMs: 5_000,
    ...(extra.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: extra.stopTimeoutMs }),
    log: () => undefined,
  });
  if (!desktop || !agent) throw new Error('desktop app did not start');
  const tray = FakeTray.instances[0];
  const window = FakeBrowserWindow.instances[0];
  if (!tray || !window) throw new Error('no tray or window');
  window.emit('ready-to-show');
  return { desktop, agent, backend, tray, window };
}

beforeEach(() => fake.reset());
afterEach(() => vi.useRealTimers());

describe('single instance', () => {
  it('quits without starting the agent when another instance holds the lock', async () => {
    fake.app.hasLock = false;
    const createAgent = vi.fn();
    const result = await startDesktopApp({
      createAgent,
      settings: new SettingsRepository(new MemoryBackend()),
      paths: { preload: '', renderer: { file: '' }, trayIconDir: '', appIcon: '', dataDir: '' },
      startHidden: false,
      loginItem: { platform: 'darwin', executable: '', xdgConfigHome: '' },
      log: () => undefined,
    });
    expect(result).toBeNull();
    expect(fake.app.quit).toHaveBeenCalled();
    expect(createAgent).not.toHaveBeenCalled();
    expect(FakeTray.instances).toHaveLength(0);
  });

  it('shows and focuses the window when a second instance starts', async () => {
    const { window } = await start({}, { startHidden: true });
    window.emit('ready-to-show');
    expect(window.visible).toBe(false);
    window.minimized = true;
    fake.app.emit('second-instance');
    expect(window.restore).toHaveBeenCalled();
    expect(window.visible).toBe(true);
    expect(window.focus).toHaveBeenCalled();
  });

  it('opens a copilot:// attach link from a second instance on the first-run screen', async () => {
    const { window } = await start({}, { startHidden: true });
    const link = 'copilot://attach?v=1&name=Test&invite=abcdefgh12';
    fake.app.emit('second-instance', {}, ['/opt/copilot', link], '/');
    expect(window.visible).toBe(true);
    expect(window.loaded).toEqual({ file: '/app/dist/renderer/index.html' });
    expect(fake.app.setAsDefaultProtocolClient).toHaveBeenCalledWith('copilot');
  });
});

describe('window', () => {
  it('is sandboxed and isolated and loads the built renderer', async () => {
    const { window } = await start();
    const prefs = window.options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      preload: '/app/dist/preload/preload.cjs',
    });
    expect(window.loaded.file).toBe('/app/dist/renderer/index.html');
    expect(window.visible).toBe(true);
  });

  it('hides instead of closing, and the app keeps running in the tray', async () => {
    const { window, agent, tray } = await start();
    expect(window.userCloses()).toBe(true);
    expect(window.hide).toHaveBeenCalled();
    expect(window.visible).toBe(false);
    expect(fake.app.quit).not.toHaveBeenCalled();
    expect(agent.stop).not.toHaveBeenCalled();
    tray.click('open');
    expect(window.visible).toBe(true);
  });

  it('Quit from the tray stops the agent and lets the window close', async () => {
    const { window, agent, tray } = await start();
    tray.click('quit');
    expect(fake.app.quit).toHaveBeenCalledTimes(1);
    await vi.waitFor(() => expect(fake.app.quitted).toBe(true));
    expect(agent.stop).toHaveBeenCalledTimes(1);
    expect(tray.destroyed).toBe(true);
    expect(window.userCloses()).toBe(false);
    expect(fake.handlers.size).toBe(0);
  });
});

describe('quitting', () => {
  it('quits even when the agent does not stop in time', async () => {
    vi.useFakeTimers();
    const { agent, tray } = await start({}, { stopTimeoutMs: 1_000 });
    agent.stop.mockReturnValue(new Promise<void>(() => undefined));
    tray.click('quit');
    expect(fake.app.quitted).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fake.app.quitted).toBe(true);
    // A job still settling reports its status to a tray that is gone.
    expect(tray.destroyed).toBe(true);
    expect(() =>
      agent.setStatus({ activity: 'stopped', statusLine: 'Stopped', paused: false }),
    ).not.toThrow();
  });
});

describe('tray', () => {
  it('menu items pause, pause for an hour, resume, open and quit', async () => {
    const { agent, tray } = await start();
    expect(tray.item('status')).toMatchObject({ label: 'Waiting for work', enabled: false });
    expect(tray.item('resume')).toBeUndefined();
    tray.click('pause');
    expect(agent.commands.pause).toHaveBeenCalledWith(undefined);
    await vi.waitFor(() => expect(tray.item('resume')).toBeDefined());
    expect(tray.item('pause')).toBeUndefined();
    tray.click('resume');
    expect(agent.commands.resume).toHaveBeenCalledTimes(1);
    await vi.waitFor(() => expect(tray.item('pause')).toBeDefined());
    tray.click('pause-hour');
    expect(agent.commands.pause).toHaveBeenLastCalledWith(60);
  });

  it('status updates change the tooltip, the icon and the status line', async () => {
    const { agent, tray } = await start();
    expect(tray.image).toBe('/app/assets/tray/tray-idle.png');
    agent.setStatus({ activity: 'running', statusLine: 'Running job 42 (3 min)' });
    expect(tray.image).toBe('/app/assets/tray/tray-running.png');
    expect(tray.tooltip).toBe('Co-Pilot Desktop: Running job 42 (3 min)');
    expect(tray.item('status')?.label).toBe('Running job 42 (3 min)');
    agent.setStatus({ activity: 'docker-unavailable', statusLine: 'No Docker' });
    expect(tray.image).toBe('/app/assets/tray/tray-error.png');
    expect(tray.item('status')?.label).toBe('No Docker');
    agent.setStatus({ activity: 'not-connected', statusLine: 'Not connected' });
    expect(tray.image).toBe('/app/assets/tray/tray-error.png');
    agent.setStatus({ activity: 'paused', statusLine: 'Paused', paused: true });
    expect(tray.image).toBe('/app/assets/tray/tray-paused.png');
    agent.setStatus({
      activity: 'waiting-for-idle',
      statusLine: 'Waiting for idle',
      paused: false,
    });
    expect(tray.image).toBe('/app/assets/tray/tray-idle.png');
    expect(tray.tooltip).toBe('Co-Pilot Desktop: Waiting for idle');
  });
});

describe('per-job control and notifications', () => {
  const job: RunningJob = {
    jobId: 'j-7',
    manager: 'jm@localhost',
    command: 'run.sh',
    phase: 'running',
    receivedAt: '2026-11-30T10:00:00.000Z',
    startedAt: '2026-11-30T10:00:01.000Z',
    elapsedMs: 60_000,
    wallClockLimitMs: 86_400_000,
    cpuSeconds: 3,
    progress: null,
    etaMs: null,
  };

  it('the tray lists running jobs to suspend, resume or abort, and offers finish then pause', async () => {
    const { agent, tray } = await start();
    expect(tray.item('finish-then-pause')).toBeUndefined();
    agent.setStatus({ activity: 'running', statusLine: 'Running job j-7', running: [job] });
    const submenu = (): MenuItemConstructorOptions[] =>
      tray.item('job:j-7')?.submenu as MenuItemConstructorOptions[];
    const click = (id: string): void => {
      const entry = submenu().find((item) => item.id === id);
      (entry?.click as () => void)();
    };
    click('job-suspend:j-7');
    expect(agent.commands.suspendJob).toHaveBeenCalledWith('j-7');
    agent.setStatus({ suspendedJobs: ['j-7'] });
    expect(tray.item('job:j-7')?.label).toBe('Job j-7 (suspended)');
    click('job-resume:j-7');
    expect(agent.commands.resumeJob).toHaveBeenCalledWith('j-7');
    click('job-abort:j-7');
    expect(agent.commands.abortJob).toHaveBeenCalledWith('j-7');
    tray.click('finish-then-pause');
    expect(agent.commands.finishThenPause).toHaveBeenCalledTimes(1);
    await vi.waitFor(() => expect(tray.item('finish-then-pause')).toBeUndefined());
  });

  it("shows the agent's notification events as desktop notifications", async () => {
    const { agent } = await start();
    agent.events.emit('notification', {
      kind: 'job-failed',
      title: 'Job j-7 failed',
      body: 'exit code 3',
      time: new Date().toISOString(),
      jobId: 'j-7',
    });
    expect(FakeNotification.shown.map((shown) => shown.options)).toEqual([
      { title: 'Job j-7 failed', body: 'exit code 3', icon: '/app/assets/icon.png' },
    ]);
    FakeNotification.supported = false;
    agent.events.emit('notification', {
      kind: 'docker-gone',
      title: 'Docker went away',
      body: '',
      time: new Date().toISOString(),
    });
    expect(FakeNotification.shown).toHaveLength(1);
  });
});

describe('IPC', () => {
  it('binds every contract command to the agent, for our window only', async () => {
    const { agent, window } = await start();
    expect([...fake.handlers.keys()].sort()).toEqual(
      UI_COMMAND_NAMES.map(ipcCommandChannel).sort(),
    );
    await fake.invoke(ipcCommandChannel('pause'), window.webContents, 15);
    expect(agent.commands.pause).toHaveBeenCalledWith(15);
    await fake.invoke(ipcCommandChannel('getJobs'), window.webContents, 10);
    expect(agent.commands.getJobs).toHaveBeenCalledWith(10);
    expect(() => fake.invoke(ipcCommandChannel('resume'), { other: true })).toThrow(/untrusted/);
    expect(agent.commands.resume).not.toHaveBeenCalled();
  });

  it('forwards agent events to the window', async () => {
    const { agent, window } = await start();
    const entry: LogEntry = {
      time: '2026-01-01T00:00:00Z',
      level: 'info',
      component: 'x',
      message: 'hi',
    };
    agent.events.emit('log', entry);
    agent.setStatus({ statusLine: 'Running' });
    expect(window.webContents.sent).toContainEqual({
      channel: ipcEventChannel('log'),
      payload: entry,
    });
    expect(window.webContents.sent.map((m) => m.channel)).toContain(ipcEventChannel('status'));
  });
});

describe('settings', () => {
  it('starts the agent with stored settings over the defaults and persists accepted changes', async () => {
    const { agent, backend, window } = await start({ cpuLimitPercent: 30, jobSlots: 2 });
    expect(agent.options.settings).toEqual({
      ...DEFAULT_SETTINGS,
      cpuLimitPercent: 30,
      jobSlots: 2,
    });
    expect(agent.options.dataDir).toBe('/tmp/agent');
    const result = await fake.invoke(ipcCommandChannel('setSettings'), window.webContents, {
      cpuLimitPercent: 75,
      jobManagerAddress: 'jm@xmpp.example.org',
    });
    expect(result).toMatchObject({ ok: true });
    expect(backend.store).toMatchObject({
      cpuLimitPercent: 75,
      jobManagerAddress: 'jm@xmpp.example.org',
    });
  });

  it('rejects invalid values and stores nothing', async () => {
    const { backend, window } = await start();
    const result = await fake.invoke(ipcCommandChannel('setSettings'), window.webContents, {
      cpuLimitPercent: 250,
    });
    expect(result).toMatchObject({ ok: false, errors: [{ field: 'cpuLimitPercent' }] });
    expect(backend.store).toEqual({});
  });

  it('ignores stored values that no longer validate', async () => {
    const { agent } = await start({ cpuLimitPercent: 0, idleMinutes: 'soon', xmppUsername: 'bob' });
    expect(agent.options.settings.cpuLimitPercent).toBe(DEFAULT_SETTINGS.cpuLimitPercent);
    expect(agent.options.settings.idleMinutes).toBe(DEFAULT_SETTINGS.idleMinutes);
    expect(agent.options.settings.xmppUsername).toBe('bob');
  });

  it('keeps the password encrypted at rest and never sends it to the window', async () => {
    // An older build stored it in clear; the first start encrypts it with safeStorage.
    const { agent, backend, window } = await start({ xmppPassword: 'pw-stored', jobSlots: 2 });
    expect(agent.options.settings.xmppPassword).toBe('pw-stored');
    expect(backend.store).toMatchObject({ xmppPassword: '', jobSlots: 2 });
    expect(backend.store[ENCRYPTED_PASSWORD_KEY]).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(JSON.stringify(backend.store)).not.toContain('pw-stored');

    const shown = await fake.invoke(ipcCommandChannel('getSettings'), window.webContents);
    expect(shown).toMatchObject({ xmppPassword: '', xmppPasswordSet: true, jobSlots: 2 });
    expect(JSON.stringify(shown)).not.toContain('pw-stored');
    const saved = await fake.invoke(ipcCommandChannel('setSettings'), window.webContents, {
      xmppPassword: 'pw-typed',
    });
    expect(saved).toMatchObject({
      ok: true,
      settings: { xmppPassword: '', xmppPasswordSet: true },
    });
    expect(JSON.stringify(saved)).not.toContain('pw-typed');
    expect(JSON.stringify(backend.store)).not.toContain('pw-typed');
    expect(fake.safeStorage.decryptString).not.toHaveBeenCalled();
    const reloaded = new SettingsRepository(backend, { secrets: fake.safeStorage }).load();
    expect(reloaded.xmppPassword).toBe('pw-typed');
  });

  it('applies start at login at startup and when the setting changes', async () => {
    const { window } = await start({ startAtLogin: true });
    expect(fake.app.setLoginItemSettings).toHaveBeenLastCalledWith({
      openAtLogin: true,
      args: ['--hidden'],
    });
    await fake.invoke(ipcCommandChannel('setSettings'), window.webContents, {
      startAtLogin: false,
    });
    expect(fake.app.setLoginItemSettings).toHaveBeenLastCalledWith({
      openAtLogin: false,
      args: ['--hidden'],
    });
    expect(fake.app.setLoginItemSettings).toHaveBeenCalledTimes(2);
    await fake.invoke(ipcCommandChannel('setSettings'), window.webContents, {
      cpuLimitPercent: 20,
    });
    expect(fake.app.setLoginItemSettings).toHaveBeenCalledTimes(2);
  });
});

describe('idle detection', () => {
  it('feeds powerMonitor idle time to the agent every poll', async () => {
    vi.useFakeTimers();
    fake.idleSeconds = 7;
    const { agent } = await start();
    expect(agent.reportIdleSeconds).toHaveBeenLastCalledWith(7);
    fake.idleSeconds = 12;
    vi.advanceTimersByTime(5_000);
    expect(agent.reportIdleSeconds).toHaveBeenLastCalledWith(12);
    fake.idleSeconds = 0;
    vi.advanceTimersByTime(5_000);
    expect(agent.reportIdleSeconds).toHaveBeenLastCalledWith(0);
    expect(agent.reportIdleSeconds).toHaveBeenCalledTimes(3);
  });
});
