import { app, ipcMain, powerMonitor, type BrowserWindow } from 'electron';
import type { AgentSettings, AgentStatus } from '../contract/ui-contract';
import type { AgentHost, AgentHostOptions } from '../core/agent-host';
import { withTimeout } from '../base/with-timeout';
import { startDesktopNotifications } from './desktop-notifications';
import { startIdleMonitor } from './idle-monitor';
import { forwardAgentEvents, registerCommandHandlers } from './ipc-bridge';
import { applyStartAtLogin, type LoginItemTarget } from './login-item';
import { createMainWindow, showWindow, type RendererSource } from './main-window';
import type { SettingsRepository } from './settings-repository';
import { createTrayController, type TrayController } from './tray-controller';
import { errorMessage } from '../base/errors';
import { attachLinkInArgv, loadWithAttachLink, registerAttachLinks } from './attach-links';

const STOP_TIMEOUT_MS = 15_000;
export const APP_ID = 'ch.cern.copilot.desktop';

export type AgentFactory = (options: AgentHostOptions) => AgentHost;

export interface DesktopAppOptions {
  /** `createAgent` from src/core/agent.ts; tests pass a fake. */
  createAgent: AgentFactory;
  settings: SettingsRepository;
  paths: {
    preload: string;
    renderer: RendererSource;
    trayIconDir: string;
    appIcon: string;
    /** The agent's work dirs, job history and state. */
    dataDir: string;
  };
  /** Started by the login item: stay in the tray, no window. */
  startHidden: boolean;
  loginItem: Omit<LoginItemTarget, 'setLoginItemSettings'>;
  idlePollMs?: number;
  /** How long Quit waits for the agent to checkpoint and stop; default 15 s. */
  stopTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface DesktopApp {
  readonly agent: AgentHost;
  readonly tray: TrayController;
  window(): BrowserWindow | null;
  openWindow(): void;
  /** Stops the agent and tears everything down (what Quit does before the process exits). */
  shutdown(): Promise<void>;
}

/**
 * Wires the agent to Electron: single-instance lock, tray, window, IPC, settings persistence,
 * start at login and idle detection. All agent logic stays in src/core.
 * Resolves to null when another instance already runs (that one is focused instead).
 */
export async function startDesktopApp(options: DesktopAppOptions): Promise<DesktopApp | null> {
  const log = options.log ?? ((message: string) => console.log(`[desktop] ${message}`));
  if (!app.requestSingleInstanceLock()) {
    log('another instance is running; asking it to show its window');
    app.quit();
    return null;
  }

  let window: BrowserWindow | null = null;
  let quitting = false;
  let shutDown = false;
  const makeWindow = (show: boolean): BrowserWindow =>
    createMainWindow({
      preloadPath: options.paths.preload,
      renderer: options.paths.renderer,
      iconPath: options.paths.appIcon,
      isQuitting: () => quitting,
      show,
    });
  const openWindow = (): void => {
    if (!window || window.isDestroyed()) window = makeWindow(true);
    else showWindow(window);
  };
  // copilot:// attach links: from the second instance's argv (Windows, Linux), open-url (macOS).
  let pendingLink = attachLinkInArgv(process.argv);
  const openAttachLink = (link: string): void => {
    if (!window || window.isDestroyed()) {
      pendingLink = link;
      if (!app.isReady()) return;
      window = makeWindow(true);
    }
    showWindow(window);
    void loadWithAttachLink(window, options.paths.renderer, link).catch(
      reportError(log, 'attach link'),
    );
  };
  registerAttachLinks(app, openAttachLink);
  app.on('second-instance', (_event, argv: string[] | undefined) => {
    const link = attachLinkInArgv(argv ?? []);
    if (link) openAttachLink(link);
    else openWindow();
  });
  app.on('activate', openWindow);
  // Without this listener Electron quits when the window closes; we live on in the tray.
  app.on('window-all-closed', () => undefined);

  await app.whenReady();
  // Windows groups taskbar entries and notifications by this id; it matches electron-builder's appId.
  if (process.platform === 'win32') app.setAppUserModelId(APP_ID);

  const loginItem: LoginItemTarget = {
    ...options.loginItem,
    setLoginItemSettings: (settings) => app.setLoginItemSettings(settings),
  };
  const initial = options.settings.load();
  let startAtLogin = initial.startAtLogin;
  applyStartAtLogin(loginItem, startAtLogin);

  const persistSettings = (settings: AgentSettings): void => {
    options.settings.save(settings);
    if (settings.startAtLogin !== startAtLogin) {
      startAtLogin = settings.startAtLogin;
      applyStartAtLogin(loginItem, startAtLogin);
    }
  };
  const agent = options.createAgent({
    settings: initial,
    dataDir: options.paths.dataDir,
    persistSettings,
  });

  const unregister = registerCommandHandlers(
    ipcMain,
    agent.commands,
    (event) => window !== null && !window.isDestroyed() && event.sender === window.webContents,
  );
  const unforward = forwardAgentEvents(agent.events, (channel, payload) => {
    if (window && !window.isDestroyed()) window.webContents.send(channel, payload);
  });

  const { commands } = agent;
  const tray = createTrayController(options.paths.trayIconDir, {
    pause: (minutes) => void commands.pause(minutes).catch(reportError(log, 'pause')),
    resume: () => void commands.resume().catch(reportError(log, 'resume')),
    finishThenPause: () =>
      void commands.finishThenPause().catch(reportError(log, 'finish then pause')),
    suspendJob: (jobId) => void commands.suspendJob(jobId).catch(reportError(log, 'suspend')),
    resumeJob: (jobId) => void commands.resumeJob(jobId).catch(reportError(log, 'resume job')),
    abortJob: (jobId) => void commands.abortJob(jobId).catch(reportError(log, 'abort')),
    openWindow,
    quit: () => app.quit(),
  });
  const stopNotifications = startDesktopNotifications(agent.events, {
    iconPath: options.paths.appIcon,
    openWindow,
  });
  const updateTray = (status: AgentStatus): void => tray.update(status);
  agent.events.on('status', updateTray);

  const stopIdle = startIdleMonitor({
    idleSeconds: () => powerMonitor.getSystemIdleTime(),
    report: (seconds) => agent.reportIdleSeconds(seconds),
    ...(options.idlePollMs === undefined ? {} : { intervalMs: options.idlePollMs }),
  });

  const shutdown = async (): Promise<void> => {
    if (shutDown) return;
    shutDown = true;
    quitting = true;
    stopIdle();
    stopNotifications();
    unforward();
    unregister();
    // Jobs still settling after the stop timeout emit status; the tray is destroyed by then.
    agent.events.off('status', updateTray);
    try {
      const ms = options.stopTimeoutMs ?? STOP_TIMEOUT_MS;
      await withTimeout(agent.stop(), ms, `gave up after ${ms} ms`);
    } catch (error) {
      reportError(log, 'stop')(error);
    }
    tray.destroy();
  };
  app.on('before-quit', (event) => {
    quitting = true;
    if (shutDown) return;
    event.preventDefault();
    void shutdown().finally(() => app.quit());
  });

  window = makeWindow(!options.startHidden || pendingLink !== undefined);
  if (pendingLink !== undefined) openAttachLink(pendingLink);

  try {
    await agent.start();
  } catch (error) {
    reportError(log, 'start')(error);
  }
  try {
    tray.update(await agent.commands.getStatus());
  } catch (error) {
    reportError(log, 'getStatus')(error);
  }

  return { agent, tray, window: () => window, openWindow, shutdown };
}

function reportError(log: (message: string) => void, what: string): (error: unknown) => void {
  return (error) => log(`${what} failed: ${errorMessage(error)}`);
}
