/**
 * Electron main entry (bundled by scripts/build-electron.mjs to dist/main/main.cjs). It only
 * gathers paths and hands the real agent to startDesktopApp; see desktop-app.ts for the wiring.
 */
import { app, safeStorage } from 'electron';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createAgent } from '../core/agent';
import { startDesktopApp } from './desktop-app';
import { desktopProjectSet } from './desktop-projects';
import { HIDDEN_FLAG } from './login-item';
import { SettingsRepository } from './settings-repository';
import { createElectronSettingsStore } from './settings-store';

// A separate profile (settings, agent data) for tests and portable use; must precede the store.
if (process.env.COPILOT_DESKTOP_USER_DATA) {
  app.setPath('userData', process.env.COPILOT_DESKTOP_USER_DATA);
}
const appRoot = app.getAppPath();
const resources = app.isPackaged ? process.resourcesPath : join(appRoot, 'assets');
const devServerUrl = process.env.COPILOT_RENDERER_URL;

const warn = (message: string): void => console.warn(`[desktop] ${message}`);

const settings = new SettingsRepository(
  createElectronSettingsStore({
    projectVersion: app.getVersion(),
    cwd: app.getPath('userData'),
    log: warn,
  }),
  // The password is kept encrypted with the OS keyring (Keychain, DPAPI, libsecret/kwallet).
  { secrets: safeStorage, log: warn },
);

startDesktopApp({
  // One agent per attached project (src/core/project-set.ts), the first one the settings'.
  createAgent: desktopProjectSet(createAgent, { secrets: safeStorage, settings, log: warn }),
  settings,
  paths: {
    preload: join(__dirname, '..', 'preload', 'preload.cjs'),
    renderer: devServerUrl
      ? { url: devServerUrl }
      : { file: join(__dirname, '..', 'renderer', 'index.html') },
    trayIconDir: join(resources, 'tray'),
    appIcon: join(resources, 'icon.png'),
    dataDir: join(app.getPath('userData'), 'agent'),
  },
  startHidden: process.argv.includes(HIDDEN_FLAG),
  loginItem: {
    platform: process.platform,
    executable: process.env.APPIMAGE ?? process.execPath,
    xdgConfigHome: process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'),
  },
}).catch((error: unknown) => {
  console.error('[desktop] failed to start:', error);
  app.exit(1);
});
