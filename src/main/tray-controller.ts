import { Menu, Tray } from 'electron';
import type { AgentStatus } from '../contract/ui-contract';
import { trayIconPath, trayIconState, type TrayIconState } from './tray-icons';
import { trayMenuTemplate, trayTooltip, type TrayActions } from './tray-menu';

export interface TrayController {
  update(status: AgentStatus): void;
  destroy(): void;
}

/** Owns the tray icon: its image, tooltip and menu follow the agent's status. */
export function createTrayController(iconDir: string, actions: TrayActions): TrayController {
  let iconState: TrayIconState = 'idle';
  const tray = new Tray(trayIconPath(iconDir, iconState));
  const render = (status: AgentStatus | null): void => {
    tray.setToolTip(trayTooltip(status));
    tray.setContextMenu(Menu.buildFromTemplate(trayMenuTemplate(status, actions)));
  };
  tray.on('click', () => actions.openWindow());
  render(null);
  return {
    update(status) {
      const next = trayIconState(status.activity);
      if (next !== iconState) {
        iconState = next;
        tray.setImage(trayIconPath(iconDir, next));
      }
      render(status);
    },
    destroy() {
      tray.destroy();
    },
  };
}
