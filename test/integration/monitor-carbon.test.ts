import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMonitor, type Monitor } from '@manager/monitor/copilot-monitor';
import { CopilotSession } from '@copilot/transport';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import type { Command } from '@copilot/protocol';
import { startCarbon, type CarbonServer } from '@test/harness/carbon';
import { freePort, startTestXmppServer, type XmppServer } from '@test/harness';

const COMPONENT = 'jobmanager.generic.alpha';

describe('Monitor with a real XMPP server and carbon-cache', () => {
  let prosody: XmppServer;
  let carbon: CarbonServer;
  let monitor: Monitor;
  let reporter: CopilotSession;
  const logs: LogRecord[] = [];

  beforeAll(async () => {
    [prosody, carbon] = await Promise.all([
      startTestXmppServer({
        users: [
          { username: 'monitor', password: 'mon-secret' },
          { username: 'jmgeneric', password: 'jm-secret' },
          { username: 'monitor2', password: 'mon2-secret' },
        ],
      }),
      startCarbon({ retentions: '1s:1h' }),
    ]);
    monitor = await startMonitor({
      config: {
        jabber: {
          server: `127.0.0.1:${prosody.port}`,
          domain: prosody.domain,
          id: 'monitor',
          password: 'mon-secret',
        },
        carbon: { host: '127.0.0.1', port: carbon.linePort },
        // Samples are taken by the test (sampleNow) so that their contents are known.
        sampleSeconds: 3600,
        http: { host: '127.0.0.1', port: 0 },
        pollSeconds: 3600,
        carbonBufferLines: 1000,
        allowedSenders: [prosody.jid('jmgeneric')],
        maxSeries: 5000,
      },
      logger: createLogger('monitor', (record) => logs.push(record), 'info'),
    });
    reporter = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'jmgeneric',
      password: 'jm-secret',
      resource: 'alpha',
    });
    await reporter.start();
  });

  afterAll(async () => {
    await reporter?.stop();
    await monitor?.stop();
    await Promise.all([carbon?.stop(), prosody?.stop()]);
  });

  const report = (command: Command): Promise<string> =>
    reporter.send(prosody.jid('monitor'), command);

  it('stores reportEvent counts, duration rollups and values as whisper files; drops a bad path', async () => {
    // Acknowledged sends: each has reached the Monitor when its promise resolves.
    await Promise.all([
      report({ command: 'reportEvent', component: COMPONENT, event: 'job.succeeded' }),
      report({ command: 'reportEvent', component: COMPONENT, event: 'job.succeeded' }),
      report({ command: 'reportEvent', component: COMPONENT, event: 'job.succeeded' }),
      report({ command: 'reportEvent', component: COMPONENT, event: 'job.failed' }),
      report({ command: 'reportEvent', component: 'agent', event: 'disk used /var' }),
      report({
        command: 'reportEventDuration',
        component: COMPONENT,
        event: 'job.duration',
        duration: 100,
      }),
      report({
        command: 'reportEventDuration',
        component: COMPONENT,
        event: 'job.duration',
        duration: 400,
      }),
      report({ command: 'reportEventValue', component: COMPONENT, event: 'queuedJobs', value: 7 }),
    ]);
    const points = monitor.sampleNow();
    const byPath = new Map(points.map((point) => [point.path, point.value]));
    expect(byPath.get(`copilot.${COMPONENT}.job.succeeded`)).toBe(3);
    expect(byPath.get(`copilot.${COMPONENT}.job.duration.gmean`)).toBeCloseTo(200, 9);
    // 2 counters + 7 rollup points + 1 immediate value; 'disk used /var' is not a path.
    expect(byPath.get('copilot.monitor.updates')).toBe(10);
    expect(logs.map((record) => record.message)).toContain('Sent 10 updates to Carbon.');
    expect(monitor.intake.dropped.path).toBe(1);

    const expected = {
      [`copilot.${COMPONENT}.job.succeeded`]: [3],
      [`copilot.${COMPONENT}.job.failed`]: [1],
      [`copilot.${COMPONENT}.queuedJobs`]: [7],
      [`copilot.${COMPONENT}.job.duration.avg`]: [250],
      [`copilot.${COMPONENT}.job.duration.gmean`]: [200],
      [`copilot.${COMPONENT}.job.duration.min`]: [100],
      [`copilot.${COMPONENT}.job.duration.max`]: [400],
      [`copilot.${COMPONENT}.job.duration.count`]: [2],
      'copilot.monitor.updates': [10],
    };
    await carbon.waitForMetrics([
      ...Object.keys(expected),
      `copilot.${COMPONENT}.job.duration.start`,
      `copilot.${COMPONENT}.job.duration.end`,
    ]);
    for (const [metric, values] of Object.entries(expected)) {
      expect(await carbon.values(metric), metric).toEqual(values);
    }
    const [start] = await carbon.values(`copilot.${COMPONENT}.job.duration.start`);
    const [end] = await carbon.values(`copilot.${COMPONENT}.job.duration.end`);
    const nowSeconds = Date.now() / 1000;
    expect(end).toBeGreaterThan(nowSeconds - 120);
    expect(end).toBeLessThanOrEqual(nowSeconds);
    expect(start).toBeLessThanOrEqual((end ?? 0) - 0.1);
    // Nothing escaped the storage dir through an unsanitised path.
    expect(carbon.metrics().every((metric) => metric.startsWith('copilot.'))).toBe(true);
    // carbon-cache logged the datapoints it received and wrote.
    expect(carbon.log()).toMatch(/copilot\.jobmanager\.generic\.alpha\.job\.succeeded/);
  });

  it('serves the same metrics in Prometheus text format', async () => {
    const response = await fetch(`${monitor.http.url}metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await response.text();
    const labels = (event: string): string =>
      `{component="${COMPONENT}",event="${event}",path="copilot.${COMPONENT}.${event}"}`;
    expect(text).toContain('# TYPE copilot_events_total counter');
    expect(text).toContain(`copilot_events_total${labels('job.succeeded')} 3`);
    expect(text).toContain(`copilot_events_total${labels('job.failed')} 1`);
    expect(text).toContain(`copilot_event_value${labels('queuedJobs')} 7`);
    expect(text).toContain(`copilot_event_duration_milliseconds_sum${labels('job.duration')} 500`);
    expect(text).toContain(`copilot_event_duration_milliseconds_count${labels('job.duration')} 2`);
    expect(text).toMatch(/copilot_event_duration_sample\{[^}]*stat="gmean"\} 200\n/);
    expect(text).toContain('copilot_monitor_updates 10');
    expect(text).toContain('copilot_monitor_dropped_reports_total{reason="path"} 1');
    expect(text).not.toContain('disk');
    expect(text).toContain('copilot_monitor_carbon_connected 1');
  });

  it('a quiet sample sends zero counts for known events, and copilot.monitor.updates', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const points = monitor.sampleNow();
    const byPath = new Map(points.map((point) => [point.path, point.value]));
    // The two known counters, each 0; no durations, no values.
    expect(byPath.get('copilot.monitor.updates')).toBe(2);
    expect(byPath.get(`copilot.${COMPONENT}.job.succeeded`)).toBe(0);
    expect(byPath.has(`copilot.${COMPONENT}.job.duration.avg`)).toBe(false);
    await expect
      .poll(async () => (await carbon.values('copilot.monitor.updates')).length, {
        timeout: 10_000,
      })
      .toBe(2);
    expect(logs.map((record) => record.message)).toContain('Sent 2 updates to Carbon.');
  });

  it('buffers while Carbon is down and delivers once it is up', async () => {
    const linePort = await freePort();
    const late = await startMonitor({
      config: {
        jabber: {
          server: `127.0.0.1:${prosody.port}`,
          domain: prosody.domain,
          id: 'monitor2',
          password: 'mon2-secret',
        },
        carbon: { host: '127.0.0.1', port: linePort },
        sampleSeconds: 3600,
        http: { host: '127.0.0.1', port: 0 },
        pollSeconds: 3600,
        carbonBufferLines: 1000,
        allowedSenders: [prosody.jid('jmgeneric')],
        maxSeries: 5000,
      },
    });
    let lateCarbon: CarbonServer | undefined;
    try {
      await reporter.send(late.session.jid, {
        command: 'reportEventValue',
        component: 'agent',
        event: 'buffered',
        value: 42,
      });
      late.sampleNow();
      expect(late.carbon.isConnected).toBe(false);
      expect(late.carbon.bufferedLines).toBe(2);
      expect(await (await fetch(`${late.http.url}metrics`)).text()).toContain(
        'copilot_monitor_carbon_buffered_lines 2',
      );
      lateCarbon = await startCarbon({ linePort });
      await lateCarbon.waitForMetrics(
        ['copilot.agent.buffered', 'copilot.monitor.updates'],
        40_000,
      );
      expect(await lateCarbon.values('copilot.agent.buffered')).toEqual([42]);
      expect(await lateCarbon.values('copilot.monitor.updates')).toEqual([1]);
      expect(late.carbon.bufferedLines).toBe(0);
    } finally {
      await late.stop();
      await lateCarbon?.stop();
    }
  });
});
