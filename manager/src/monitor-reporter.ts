/**
 * Events for the Co-Pilot Monitor (2.2.5, 2.3.2), sent noack when MON_JABBER_ADDRESS is set.
 * The component name is `jobmanager.generic.<resource>`.
 */
import type { Command } from '../../src/protocol';
import type { Logger } from '../../src/transport';

export type MonitorEvent =
  'job.succeeded' | 'job.failed' | 'error.invalidJobId' | 'error.emptyQueue';

/** The part of CopilotSession the reporter needs. */
export interface CommandSender {
  send(to: string, command: Command, options?: { noack?: boolean }): Promise<string>;
}

export class MonitorReporter {
  readonly component: string;

  constructor(
    private readonly sender: CommandSender,
    private readonly address: string | undefined,
    resource: string,
    private readonly logger: Logger,
  ) {
    this.component = `jobmanager.generic.${resource}`;
  }

  get enabled(): boolean {
    return this.address !== undefined;
  }

  event(event: MonitorEvent): void {
    this.emit({ command: 'reportEvent', component: this.component, event });
  }

  value(event: 'queuedJobs' | 'runningJobs', value: number): void {
    this.emit({ command: 'reportEventValue', component: this.component, event, value });
  }

  private emit(command: Command): void {
    if (this.address === undefined) return;
    this.sender.send(this.address, command, { noack: true }).catch((error: unknown) => {
      this.logger.debug('monitor event not sent', {
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }
}
