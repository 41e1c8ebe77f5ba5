/**
 * The agent reports to the project's Monitor (2.2.5, 2.3) when the `monitorAddress` setting
 * names it, as the desktop app does (no MON_JABBER_ADDRESS option): real Prosody and ejabberd, the real
 * manager and agent (jobs in Docker), the real Monitor and a real carbon-cache. The paths arrive
 * in whisper files as `copilot.agent.<resource>.…`: the load (system.load.1min|5min|15min),
 * job.started, job.succeeded and job.failed counts, and the job.duration rollup.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { startMonitor, type Monitor } from '@manager/monitor/copilot-monitor';
import { monitorConfigFrom } from '@manager/monitor/monitor-config';
import { ConfigValues } from '@copilot/protocol/config-file';
import { createAgent, type Agent } from '@copilot/core/agent';
import { createLogger } from '@copilot/base/logger';
import { startCarbon, type CarbonServer } from '@test/harness/carbon';
import {
  ensureDocker,
  startXmppServer,
  until,
  XMPP_SERVER_KINDS,
  type XmppServer,
} from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const PASSWORD = 'agent-monitoring-pw';
const RESOURCE = 'desk-1';
const PREFIX = `copilot.agent.${RESOURCE}`;

let prosody: XmppServer;
let carbon: CarbonServer;
let docker: Docker;
let root: string;
let monitor: Monitor;
let manager: RunningJobManager;
let agent: Agent;

describe.each(XMPP_SERVER_KINDS)('agent monitoring on real servers (%s)', (kind) => {
  beforeAll(async () => {
    docker = await ensureDocker();
    [prosody, carbon] = await Promise.all([
      startXmppServer(kind, {
        users: [
          { username: 'jm', password: MANAGER_PASSWORD },
          { username: 'monitor', password: PASSWORD },
          { username: 'agent1', password: PASSWORD },
        ],
      }),
      startCarbon({ retentions: '1s:1h' }),
    ]);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-monitoring-'));
    monitor = await startMonitor({
      config: monitorConfigFrom(
        new ConfigValues([
          new Map([
            ['MON_JABBER_SERVER', `127.0.0.1:${prosody.port}`],
            ['MON_JABBER_DOMAIN', prosody.domain],
            ['MON_JABBER_ID', 'monitor'],
            ['MON_JABBER_PASSWORD', PASSWORD],
            ['CARBON_SERVER', '127.0.0.1'],
            ['CARBON_PORT', String(carbon.linePort)],
            ['MON_SAMPLE_SECONDS', '1'],
            ['MON_HTTP_PORT', '0'],
            ['MON_ALLOWED_SENDERS', prosody.jid('agent1')],
          ]),
        ]),
      ),
      logger: createLogger('monitor', () => undefined),
    });
    manager = await startJobManager(
      loadJobManagerConfig([], localManagerValues(prosody, path.join(root, 'jm'))),
      { logger: createLogger('jm', () => undefined), session: { ackTimeoutMs: 1000 } },
    );
    agent = createAgent({
      settings: localAgentSettings(prosody, 'agent1', PASSWORD, {
        monitorAddress: prosody.jid('monitor'),
        memoryLimitMb: 256,
        diskLimitMb: 200,
      }),
      dataDir: path.join(root, 'agent1-data'),
      docker,
      resource: RESOURCE,
      replyTimeoutMs: 3000,
      fetchBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
      loadReportIntervalMs: 500,
      session: { ackTimeoutMs: 1000 },
    });
    await agent.start();
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await manager?.stop();
    await monitor?.stop();
    await Promise.all([carbon?.stop(), prosody?.stop()]);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  async function submit(name: string, text: string): Promise<string> {
    const dir = fs.mkdtempSync(path.join(root, 'src-'));
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o755 });
    return (await submitJob(manager.queue, manager.paths, { commandFile: file })).id;
  }

  /** The sum of a count's samples in Carbon, once it reaches `total`. */
  async function carbonTotal(metric: string, total: number): Promise<number> {
    await carbon.waitForMetrics([metric], 30_000);
    return until(
      `${metric} to add up to ${total} in Carbon`,
      async () => {
        const sum = (await carbon.values(metric)).reduce((a, b) => a + b, 0);
        return sum >= total ? sum : undefined;
      },
      30_000,
    );
  }

  it('the agent’s load, job counts and durations arrive in carbon-cache under copilot.agent.<resource>', async () => {
    const good = await submit('good.sh', '#!/bin/bash\necho "2+2" | bc\n');
    const bad = await submit('bad.sh', '#!/bin/bash\necho broken >&2\nexit 3\n');
    for (const id of [good, bad]) {
      const job = await waitForJob(manager.queue, id, 90_000, 100);
      expect(job?.state, id).toMatch(/^(done|failed)$/);
    }
    expect(await carbonTotal(`${PREFIX}.job.started`, 2)).toBe(2);
    expect(await carbonTotal(`${PREFIX}.job.succeeded`, 1)).toBe(1);
    expect(await carbonTotal(`${PREFIX}.job.failed`, 1)).toBe(1);
    expect(await carbonTotal(`${PREFIX}.job.duration.count`, 2)).toBe(2);
    await carbon.waitForMetrics(
      [
        `${PREFIX}.job.duration.avg`,
        `${PREFIX}.job.duration.max`,
        `${PREFIX}.system.load.1min`,
        `${PREFIX}.system.load.5min`,
        `${PREFIX}.system.load.15min`,
      ],
      30_000,
    );
    const [oneMinute] = await until('a load value in Carbon', async () => {
      const values = await carbon.values(`${PREFIX}.system.load.1min`);
      return values.length > 0 ? values : undefined;
    });
    expect(oneMinute).toBeGreaterThanOrEqual(0);
    expect(monitor.intake.dropped.sender).toBe(0);
  }, 240_000);
});
