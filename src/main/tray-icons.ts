import { join } from 'node:path';
import type { AgentActivity } from '../contract/ui-contract';

/** The four looks of the tray icon; each has `tray-<state>.png` (16 px) and `@2x` (32 px). */
export type TrayIconState = 'idle' | 'running' | 'paused' | 'error';

export function trayIconState(activity: AgentActivity): TrayIconState {
  switch (activity) {
    case 'running':
      return 'running';
    case 'paused':
    case 'paused-by-rule':
    case 'stopped':
      return 'paused';
    case 'docker-unavailable':
    case 'not-connected':
      return 'error';
    case 'waiting-for-work':
    case 'waiting-for-idle':
      return 'idle';
  }
}

/** Path of the 16 px icon; Electron picks the `@2x` sibling on HiDPI screens by itself. */
export function trayIconPath(iconDir: string, state: TrayIconState): string {
  return join(iconDir, `tray-${state}.png`);
}
