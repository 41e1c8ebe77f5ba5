import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LoginItemTarget {
  platform: NodeJS.Platform;
  /** Electron's app.setLoginItemSettings; it only acts on macOS and Windows. */
  setLoginItemSettings(settings: { openAtLogin: boolean; args?: string[] }): void;
  /** The executable to start (process.execPath; under AppImage, process.env.APPIMAGE). */
  executable: string;
  /** XDG config home (usually ~/.config); Linux autostart entries go in its autostart/. */
  xdgConfigHome: string;
}

/** The command-line flag the login item passes, so the app starts in the tray, window hidden. */
export const HIDDEN_FLAG = '--hidden';
export const AUTOSTART_FILE = 'co-pilot-desktop.desktop';

function quoteExec(path: string): string {
  return /[\s"'\\$`]/.test(path) ? `"${path.replace(/(["\\$`])/g, '\\$1')}"` : path;
}

/**
 * Starts the app at login or stops doing so. Electron's login items only exist on macOS and
 * Windows, so on Linux this writes or removes an XDG autostart entry as well.
 */
export function applyStartAtLogin(target: LoginItemTarget, openAtLogin: boolean): void {
  target.setLoginItemSettings({ openAtLogin, args: [HIDDEN_FLAG] });
  if (target.platform !== 'linux') return;
  const dir = join(target.xdgConfigHome, 'autostart');
  const file = join(dir, AUTOSTART_FILE);
  if (!openAtLogin) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    file,
    [
      '[Desktop Entry]',
      'Type=Application',
      'Name=Co-Pilot Desktop',
      'Comment=Volunteer computing for CernVM Co-Pilot',
      `Exec=${quoteExec(target.executable)} ${HIDDEN_FLAG}`,
      'X-GNOME-Autostart-enabled=true',
      '',
    ].join('\n'),
  );
}
