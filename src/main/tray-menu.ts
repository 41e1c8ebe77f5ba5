import type { MenuItemConstructorOptions } from 'electron';
import type { AgentStatus } from '../contract/ui-contract';

export interface TrayActions {
  pause(minutes?: number): void;
  resume(): void;
  openWindow(): void;
  quit(): void;
}

export const PAUSE_FOR_HOUR_MINUTES = 60;

/** The tray menu for a status: a disabled status line, then the actions. Pure, so it is tested. */
export function trayMenuTemplate(
  status: AgentStatus | null,
  actions: TrayActions,
): MenuItemConstructorOptions[] {
  const paused = status?.paused ?? false;
  return [
    { id: 'status', label: status?.statusLine ?? 'Starting…', enabled: false },
    { type: 'separator' },
    paused
      ? { id: 'resume', label: 'Resume', click: () => actions.resume() }
      : { id: 'pause', label: 'Pause', click: () => actions.pause() },
    {
      id: 'pause-hour',
      label: 'Pause for 1 hour',
      click: () => actions.pause(PAUSE_FOR_HOUR_MINUTES),
    },
    { type: 'separator' },
    { id: 'open', label: 'Open Co-Pilot Desktop', click: () => actions.openWindow() },
    { id: 'quit', label: 'Quit', click: () => actions.quit() },
  ];
}

/** Tooltip: the product name and the status line (tooltips are short on every desktop). */
export function trayTooltip(status: AgentStatus | null): string {
  return status ? `Co-Pilot Desktop: ${status.statusLine}` : 'Co-Pilot Desktop';
}
