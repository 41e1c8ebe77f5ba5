import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AUTOSTART_FILE, applyStartAtLogin } from '@copilot/main/login-item';

describe('start at login', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('uses Electron login items and, on Linux, an XDG autostart entry', () => {
    const xdgConfigHome = mkdtempSync(join(tmpdir(), 'copilot-xdg-'));
    dirs.push(xdgConfigHome);
    const setLoginItemSettings = vi.fn();
    const target = {
      platform: 'linux' as const,
      setLoginItemSettings,
      executable: '/opt/Co-Pilot Desktop/copilot',
      xdgConfigHome,
    };
    const file = join(xdgConfigHome, 'autostart', AUTOSTART_FILE);
    applyStartAtLogin(target, true);
    expect(setLoginItemSettings).toHaveBeenCalledWith({ openAtLogin: true, args: ['--hidden'] });
    expect(readFileSync(file, 'utf8')).toContain('Exec="/opt/Co-Pilot Desktop/copilot" --hidden');
    applyStartAtLogin(target, false);
    expect(setLoginItemSettings).toHaveBeenLastCalledWith({
      openAtLogin: false,
      args: ['--hidden'],
    });
    expect(existsSync(file)).toBe(false);
  });

  it('writes no autostart file on macOS and Windows', () => {
    const xdgConfigHome = mkdtempSync(join(tmpdir(), 'copilot-xdg-'));
    dirs.push(xdgConfigHome);
    const setLoginItemSettings = vi.fn();
    applyStartAtLogin(
      { platform: 'win32', setLoginItemSettings, executable: 'x', xdgConfigHome },
      true,
    );
    expect(setLoginItemSettings).toHaveBeenCalledWith({ openAtLogin: true, args: ['--hidden'] });
    expect(existsSync(join(xdgConfigHome, 'autostart'))).toBe(false);
  });
});
