/**
 * The agent's reports to the project's Co-Pilot Monitor (2.2.5, 2.3): its load
 * (`system.load.1min|5min|15min`, reportEventValue), its jobs (`job.started`, `job.succeeded`,
 * `job.failed`, reportEvent) and their durations (`job.duration`, `job.download`, `job.upload`,
 * reportEventDuration), all noack, as component `agent.<resource>`: the Monitor stores them
 * under `copilot.agent.<resource>.…`, as it does the manager's under
 * `copilot.jobmanager.generic.<resource>.…` (2.3.2).
 *
 * Where they go is the `monitorAddress` setting (AGENT_MONITOR_ADDRESS, set by the project; the
 * desktop app and the headless agent alike), read at every report so that a change applies at
 * once; without it, the headless agent's MON_JABBER_ADDRESS (AgentOptions.monitorAddress).
 * Several addresses: each gets every report. None: nothing is sent.
 */
import os from 'node:os';
import { MonitorReporter, type MonitorChannel } from '../transport/monitor-reporter';
import { managerAddresses } from './manager-trust';

export class AgentMonitor extends MonitorReporter {
  private readonly reporters = new Map<string, MonitorReporter>();

  constructor(
    private readonly sink: MonitorChannel,
    /** The monitor addresses now (the setting, else the option). */
    private readonly addresses: () => readonly string[],
    component: string,
  ) {
    super(sink, undefined, component);
  }

  override get enabled(): boolean {
    return this.addresses().length > 0;
  }

  override event(event: string): void {
    for (const reporter of this.current()) reporter.event(event);
  }

  override duration(event: string, milliseconds: number): void {
    for (const reporter of this.current()) reporter.duration(event, milliseconds);
  }

  override value(event: string, value: number): void {
    for (const reporter of this.current()) reporter.value(event, value);
  }

  private current(): MonitorReporter[] {
    return this.addresses().map((address) => {
      let reporter = this.reporters.get(address);
      if (!reporter) {
        if (this.reporters.size > 16) this.reporters.clear();
        reporter = new MonitorReporter(this.sink, address, this.component);
        this.reporters.set(address, reporter);
      }
      return reporter;
    });
  }
}

/** The monitor addresses: the setting when set, else the option (MON_JABBER_ADDRESS). */
export function monitorAddresses(setting: string, option: string | undefined): string[] {
  const fromSetting = managerAddresses(setting);
  return fromSetting.length > 0 ? fromSetting : managerAddresses(option ?? '');
}

/** The host's load averages, as the manager reports them (2.3.2 `system.load.*`). */
export function reportSystemLoad(monitor: MonitorReporter, loads = os.loadavg()): void {
  if (!monitor.enabled) return;
  const [one, five, fifteen] = loads;
  monitor.value('system.load.1min', one ?? 0);
  monitor.value('system.load.5min', five ?? 0);
  monitor.value('system.load.15min', fifteen ?? 0);
}
