import { Notification } from 'electron';
import type { AgentNotification } from '../contract/ui-contract';
import type { AgentHost } from '../core/agent-host';

/**
 * Shows the agent's 'notification' events (a job failed or was refused, the connection lost for
 * over a minute, Docker gone) as desktop notifications; clicking one opens the window. Returns
 * the unsubscribe.
 */
export function startDesktopNotifications(
  events: AgentHost['events'],
  options: { iconPath: string; openWindow: () => void },
): () => void {
  const show = (notification: AgentNotification): void => {
    if (!Notification.isSupported()) return;
    const shown = new Notification({
      title: notification.title,
      body: notification.body,
      icon: options.iconPath,
    });
    shown.on('click', options.openWindow);
    shown.show();
  };
  events.on('notification', show);
  return () => events.off('notification', show);
}
