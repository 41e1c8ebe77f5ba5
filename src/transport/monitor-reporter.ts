/**
 * Reports to the Co-Pilot Monitor (2.2.5, 2.3.2): reportEvent, reportEventDuration and
 * reportEventValue, sent noack to MON_JABBER_ADDRESS. One reporter for every component: the agent
 * reports as `agent.<resource>`, the Generic Job Manager as `jobmanager.generic.<resource>`.
 * Without a monitor address every call is a no-op.
 */
import { errorMessage } from '../base/errors';
import type { Command } from '../protocol/commands';
import type { Logger } from '../base/logger';

/** Where monitor commands go: fire and forget, nothing is resent. */
export interface MonitorChannel {
  notify(to: string, command: Command): void;
}

/** The part of CopilotSession that `noackChannel` needs. */
export interface CommandSender {
  send(to: string, command: Command, options?: { noack?: boolean }): Promise<string>;
}

/** A MonitorChannel over a session: each command sent noack, a failure logged at debug. */
export function noackChannel(sender: CommandSender, logger: Logger): MonitorChannel {
  return {
    notify(to, command) {
      sender.send(to, command, { noack: true }).catch((error: unknown) => {
        logger.debug('monitor event not sent', { error: errorMessage(error) });
      });
    },
  };
}

/** The kinds of component that report, with their name prefix and the default resource. */
const COMPONENT_KINDS = {
  agent: { prefix: 'agent', unnamed: 'agent' },
  jobManager: { prefix: 'jobmanager.generic', unnamed: 'jobmanager' },
} as const;

/**
 * `agent.<resource>` or `jobmanager.generic.<resource>`, with the characters Graphite treats as
 * separators in the resource replaced by `_`.
 */
export function monitorComponent(kind: keyof typeof COMPONENT_KINDS, resource: string): string {
  const { prefix, unnamed } = COMPONENT_KINDS[kind];
  return `${prefix}.${resource.replace(/[^A-Za-z0-9_-]/g, '_') || unnamed}`;
}

/** `Event` narrows the event names a component may report (the manager's are fixed). */
export class MonitorReporter<Event extends string = string> {
  constructor(
    private readonly channel: MonitorChannel,
    private readonly address: string | undefined,
    readonly component: string,
  ) {}

  get enabled(): boolean {
    return this.address !== undefined && this.address !== '';
  }

  event(event: Event): void {
    this.emit({ command: 'reportEvent', component: this.component, event });
  }

  duration(event: Event, milliseconds: number): void {
    this.emit({
      command: 'reportEventDuration',
      component: this.component,
      event,
      duration: Math.max(0, Math.round(milliseconds)),
    });
  }

  value(event: Event, value: number): void {
    if (!Number.isFinite(value)) return;
    this.emit({ command: 'reportEventValue', component: this.component, event, value });
  }

  private emit(command: Command): void {
    if (this.address === undefined || this.address === '') return;
    this.channel.notify(this.address, command);
  }
}
