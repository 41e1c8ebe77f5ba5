/**
 * Reports to the Co-Pilot Monitor (2.2.5): reportEvent, reportEventDuration and
 * reportEventValue, sent noack to MON_JABBER_ADDRESS under the component `agent.<resource>`.
 * Without a monitor address every call is a no-op.
 */
import type { ProtocolChannel } from './manager-exchange';

export class MonitorReporter {
  constructor(
    private readonly channel: ProtocolChannel,
    private readonly address: string | undefined,
    readonly component: string,
  ) {}

  get enabled(): boolean {
    return this.address !== undefined && this.address !== '';
  }

  event(event: string): void {
    if (!this.address) return;
    this.channel.notify(this.address, { command: 'reportEvent', component: this.component, event });
  }

  duration(event: string, milliseconds: number): void {
    if (!this.address) return;
    this.channel.notify(this.address, {
      command: 'reportEventDuration',
      component: this.component,
      event,
      duration: Math.max(0, Math.round(milliseconds)),
    });
  }

  value(event: string, value: number): void {
    if (!this.address || !Number.isFinite(value)) return;
    this.channel.notify(this.address, {
      command: 'reportEventValue',
      component: this.component,
      event,
      value,
    });
  }
}

/** `agent.<resource>` with characters Graphite treats as separators replaced. */
export function monitorComponent(resource: string): string {
  return `agent.${resource.replace(/[^A-Za-z0-9_-]/g, '_') || 'agent'}`;
}
