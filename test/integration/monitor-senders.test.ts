import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMonitor, type Monitor } from '@manager/monitor/copilot-monitor';
import type { MonitorConfig } from '@manager/monitor/monitor-config';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import type { CopilotSession } from '@copilot/transport';
import type { Command } from '@copilot/protocol';
import { startCarbon, type CarbonServer } from '@test/harness/carbon';
import { startTestXmppServer, startSession, type XmppServer } from '@test/harness';

const COMPONENT = 'jobmanager.generic.alpha';
const OUTSIDER_COMPONENT = 'jobmanager.generic.evil';
const INVENTED_PATHS = 3000;

interface DashboardJson {
  jobs: { queued: number | null };
  dropped: Record<string, number>;
}

/**
 * Issue #11, trust item 6: an ordinary account on the same XMPP server reports a negative queue
 * length and thousands of invented paths. The Monitor keeps only the allowed manager's reports.
 */
describe('Monitor accepts reports only from allowed senders, with a real XMPP server and carbon-cache', () => {
  let prosody: XmppServer;
  let carbon: CarbonServer;
  let monitor: Monitor;
  let manager: CopilotSession;
  let outsider: CopilotSession;
  const sessions: CopilotSession[] = [];
  const logs: LogRecord[] = [];

  const configFor = (id: string, overrides: Partial<MonitorConfig>): MonitorConfig => ({
    jabber: { server: `127.0.0.1:${prosody.port}`, domain: prosody.domain, id, password: 'mon' },
    carbon: { host: '127.0.0.1', port: carbon.linePort },
    // Samples are taken by the test (sampleNow) so that their contents are known.
    sampleSeconds: 3600,
    http: { host: '127.0.0.1', port: 0 },
    pollSeconds: 3600,
    carbonBufferLines: 10_000,
    allowedSenders: [prosody.jid('jmgeneric')],
    maxSeries: 5000,
    ...overrides,
  });

  beforeAll(async () => {
    [prosody, carbon] = await Promise.all([
      startTestXmppServer({
        users: [
          { username: 'monitor', password: 'mon' },
          { username: 'monitor2', password: 'mon' },
          { username: 'jmgeneric', password: 'jm-secret' },
          { username: 'outsider', password: 'outsider-secret' },
        ],
      }),
      startCarbon({ retentions: '1s:1h' }),
    ]);
    monitor = await startMonitor({
      config: configFor('monitor', {}),
      logger: createLogger('monitor', (record) => logs.push(record), 'info'),
    });
    manager = await startSession(
      prosody,
      { username: 'jmgeneric', password: 'jm-secret', resource: 'alpha' },
      sessions,
    );
    outsider = await startSession(
      prosody,
      { username: 'outsider', password: 'outsider-secret', resource: 'x' },
      sessions,
    );
  });

  afterAll(async () => {
    await Promise.all(sessions.map((session) => session.stop()));
    await monitor?.stop();
    await Promise.all([carbon?.stop(), prosody?.stop()]);
  });

  /** Acknowledged sends, in chunks: each has reached the Monitor when its promise resolves. */
  const sendAll = async (
    from: CopilotSession,
    to: string,
    commands: readonly Command[],
  ): Promise<void> => {
    for (let start = 0; start < commands.length; start += 500) {
      await Promise.all(commands.slice(start, start + 500).map((c) => from.send(to, c)));
    }
  };

  it("drops the outsider's queuedJobs = -31337 and 3000 invented paths; the manager's report arrives", async () => {
    const metricsBefore = await (await fetch(`${monitor.http.url}metrics`)).text();
    const invented: Command[] = Array.from({ length: INVENTED_PATHS }, (_, index) => ({
      command: 'reportEventValue',
      component: `invented.c${index}`,
      event: `path${index}`,
      value: index,
    }));
    await sendAll(outsider, prosody.jid('monitor'), [
      {
        command: 'reportEventValue',
        component: OUTSIDER_COMPONENT,
        event: 'queuedJobs',
        value: -31337,
      },
      ...invented,
    ]);
    await sendAll(manager, prosody.jid('monitor'), [
      { command: 'reportEventValue', component: COMPONENT, event: 'queuedJobs', value: 7 },
    ]);

    const dashboard = (await (
      await fetch(`${monitor.http.url}api/dashboard`)
    ).json()) as DashboardJson;
    expect(dashboard.jobs.queued).toBe(7);
    expect(dashboard.dropped).toMatchObject({ sender: INVENTED_PATHS + 1 });

    const metrics = await (await fetch(`${monitor.http.url}metrics`)).text();
    expect(metrics).not.toContain('-31337');
    expect(metrics).not.toContain('invented');
    expect(metrics).not.toContain(OUTSIDER_COMPONENT);
    expect(metrics).toContain(
      `copilot_event_value{component="${COMPONENT}",event="queuedJobs",path="copilot.${COMPONENT}.queuedJobs"} 7`,
    );
    expect(metrics).toContain(
      `copilot_monitor_dropped_reports_total{reason="sender"} ${INVENTED_PATHS + 1}`,
    );
    expect(metrics.length).toBeLessThan(metricsBefore.length + 1024);

    // One log line for the outsider, not 3001.
    const senderLines = logs.filter((record) => record.message.includes('not allowed'));
    expect(senderLines).toHaveLength(1);
    expect(JSON.stringify(senderLines[0]?.fields)).toContain(prosody.jid('outsider'));

    // Carbon gets the manager's value and no file for any invented path.
    monitor.sampleNow();
    await carbon.waitForMetrics([`copilot.${COMPONENT}.queuedJobs`, 'copilot.monitor.updates']);
    expect(await carbon.values(`copilot.${COMPONENT}.queuedJobs`)).toEqual([7]);
    expect(carbon.metrics().filter((metric) => metric.includes('invented'))).toEqual([]);
  });

  it('caps the series of an allowed sender, refuses bad paths and keeps known series updating', async () => {
    const capped = await startMonitor({ config: configFor('monitor2', { maxSeries: 3 }) });
    try {
      const to = capped.session.jid;
      const value = (component: string, event: string, v: number): Command => ({
        command: 'reportEventValue',
        component,
        event,
        value: v,
      });
      await sendAll(manager, to, [
        value(COMPONENT, 'queuedJobs', 1),
        value(COMPONENT, 'runningJobs', 1),
        value(COMPONENT, 'a', 1),
        value(COMPONENT, 'b', 1),
        value(COMPONENT, 'c', 1),
        value(COMPONENT, 'disk used /var', 1),
        value('jobmanager..generic', 'x', 1),
        value(COMPONENT, 'x'.repeat(300), 1),
      ]);
      await sendAll(manager, to, [value(COMPONENT, 'queuedJobs', 5)]);
      const metrics = await (await fetch(`${capped.http.url}metrics`)).text();
      expect(metrics).toContain('copilot_monitor_dropped_reports_total{reason="series-cap"} 2');
      expect(metrics).toContain('copilot_monitor_dropped_reports_total{reason="path"} 3');
      expect(metrics).toContain('copilot_monitor_dropped_reports_total{reason="sender"} 0');
      expect(metrics).not.toMatch(/event="[bc]"/);
      expect(capped.snapshot().jobs.queued).toBe(5);
    } finally {
      await capped.stop();
    }
  });

  it('with nobody allowed, warns at start to set MON_ALLOWED_SENDERS and drops every report', async () => {
    const records: LogRecord[] = [];
    const closed = await startMonitor({
      config: configFor('monitor2', { allowedSenders: [] }),
      logger: createLogger('monitor', (record) => records.push(record), 'info'),
    });
    try {
      expect(
        records.filter((record) => record.level === 'warn').map((record) => record.message),
      ).toEqual([expect.stringMatching(/No sender may report.*Set MON_ALLOWED_SENDERS/)]);
      await sendAll(manager, closed.session.jid, [
        { command: 'reportEventValue', component: COMPONENT, event: 'queuedJobs', value: 3 },
      ]);
      expect(closed.snapshot().jobs.queued).toBeNull();
      expect(closed.snapshot().dropped.sender).toBe(1);
    } finally {
      await closed.stop();
    }
  });
});
