/**
 * Issue #17 against a real Prosody, a real redis-server queue, a real Monitor and carbon-cache:
 * JM_REQUEST_COOLDOWN's `sleep`, JM_BANNED_FILE (and unbanning by editing it, no restart),
 * JM_MAX_LEASES_PER_AGENT, and the report's system.* figures reaching the Monitor.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestXmppServer, startRedis, type XmppServer, type RedisServer } from '@test/harness';
import { startCarbon, type CarbonServer } from '@test/harness/carbon';
import { silentLogger } from '@copilot/base/logger';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { submitBatch } from '@manager/job-manager/job-submission';
import { startMonitor, type Monitor } from '@manager/monitor/copilot-monitor';
import {
  eventually,
  managerConfig,
  MonitorListener,
  PASSWORD,
  REPO_CALCULATOR,
  tempDir,
} from './manager-fixture';
import { TestAgent } from './test-agent';

const USERS = ['jm', 'mon', 'monitor', 'chatty', 'shunned', 'greedy', 'other'];

let prosody: XmppServer;
let redis: RedisServer;
let listener: MonitorListener;
const running: Array<{ stop(): Promise<void> }> = [];
let namespace = 0;

function track<T extends { stop(): Promise<void> }>(thing: T): T {
  running.push(thing);
  return thing;
}

async function agent(name: string): Promise<TestAgent> {
  const created = new TestAgent({
    service: prosody.service,
    domain: prosody.domain,
    username: name,
    password: PASSWORD,
  });
  await created.start();
  return track(created);
}

/** A manager on the Redis queue, reporting to the listener, and `count` jobs queued. */
async function manager(extra: Record<string, string>, count: number): Promise<RunningJobManager> {
  namespace += 1;
  const stateDir = tempDir('jm-limits-');
  const config = managerConfig(prosody, 'jm', stateDir, {
    MON_JABBER_ADDRESS: `${prosody.jid('mon')}/mon`,
    JM_REDIS_SERVER: redis.url,
    JM_WAITING_JOBS_LIST: `limits-${namespace}:waiting`,
    ...extra,
  });
  const jm = track(
    await startJobManager(config, {
      redisNamespace: `limits-${namespace}:`,
      session: { ackTimeoutMs: 1000 },
    }),
  );
  if (count > 0) {
    await submitBatch(
      jm.queue,
      new JobStorePaths(config.storageDir),
      { commandFile: REPO_CALCULATOR },
      { count, kind: 'copies' },
    );
  }
  return jm;
}

function want(worker: TestAgent, to: string): Promise<string> {
  return worker.send(to, {
    command: 'want_getJob',
    agentHost: 'test-agent.local',
    jdl: worker.jdl,
  });
}

beforeAll(async () => {
  [prosody, redis] = await Promise.all([
    startTestXmppServer({ users: USERS.map((username) => ({ username, password: PASSWORD })) }),
    startRedis(),
  ]);
  listener = new MonitorListener(prosody, 'mon');
  await listener.session.start();
});

afterEach(async () => {
  for (const thing of running.splice(0).reverse()) await thing.stop();
  listener.messages.length = 0;
});

afterAll(async () => {
  await listener?.session.stop();
  await Promise.all([prosody?.stop(), redis?.stop()]);
});

describe('limits on one account (issue #17)', () => {
  it('tells an account asking again within JM_REQUEST_COOLDOWN to sleep for what is left', async () => {
    const jm = await manager({ JM_REQUEST_COOLDOWN: '30' }, 2);
    const chatty = await agent('chatty');
    await want(chatty, jm.jid);
    await chatty.waitFor('have_getJob');
    await want(chatty, jm.jid);
    const sleep = await chatty.waitFor('sleep');
    expect(sleep.from).toBe(jm.jid);
    expect(sleep.command.seconds).toBeGreaterThanOrEqual(25);
    expect(sleep.command.seconds).toBeLessThanOrEqual(30);
    expect(await chatty.receives('have_getJob', 500)).toBe(false);
    await listener.waitForEvent('error.tooOften');
    // Another account is served as usual.
    const other = await agent('other');
    await want(other, jm.jid);
    await other.waitFor('have_getJob');
  });

  it('gives a banned account nothing, refuses its lease, and serves it again once the file is edited', async () => {
    const banFile = path.join(tempDir('jm-bans-'), 'banned');
    fs.writeFileSync(banFile, '# nobody yet\n');
    const jm = await manager({ JM_BANNED_FILE: banFile }, 2);
    const shunned = await agent('shunned');
    const runJob = await shunned.fetchJob(jm.jid);

    fs.writeFileSync(banFile, `# banned for spam\n${prosody.jid('shunned')}\n`);
    // The file is looked at once a second at most: the ban takes effect within ~1 s.
    await eventually(async () => {
      await want(shunned, jm.jid);
      return (await shunned.receives('have_getJob', 400)) ? undefined : true;
    }, 'the ban to take effect');
    await shunned.send(jm.jid, {
      command: 'want_getJobOutputDir',
      agentHost: 'test-agent.local',
      jobID: runJob.command.job.id,
      jmJobData: runJob.command.jmJobData,
    });
    const refused = await shunned.waitFor('jobRefused');
    expect(refused.command).toMatchObject({ jobID: runJob.command.job.id, code: 'banned' });
    await shunned.send(jm.jid, {
      command: 'getJob',
      agentHost: 'test-agent.local',
      jdl: shunned.jdl,
    });
    expect(await shunned.receives('runJob', 1000)).toBe(false);
    await listener.waitForEvent('error.banned');

    // Unbanned by editing the file, without a restart.
    fs.writeFileSync(banFile, '*@elsewhere.example\n');
    await eventually(async () => {
      await want(shunned, jm.jid);
      return (await shunned.receives('have_getJob', 400)) ? true : undefined;
    }, 'the unban to take effect');
  });

  it('stops handing jobs to an account that holds JM_MAX_LEASES_PER_AGENT leases', async () => {
    const jm = await manager({ JM_MAX_LEASES_PER_AGENT: '2' }, 4);
    const greedy = await agent('greedy');
    const first = await greedy.fetchJob(jm.jid);
    await greedy.fetchJob(jm.jid);
    expect(await jm.queue.countActiveOf(prosody.jid('greedy'))).toBe(2);
    await want(greedy, jm.jid);
    expect(await greedy.receives('have_getJob', 1000)).toBe(false);
    await greedy.send(jm.jid, {
      command: 'getJob',
      agentHost: 'test-agent.local',
      jdl: greedy.jdl,
    });
    expect(await greedy.receives('runJob', 1000)).toBe(false);
    await listener.waitForEvent('error.tooManyLeases');
    expect(await jm.queue.countQueued()).toBe(2);
    // One lease ends: the account may take one more.
    const result = await greedy.runJob(first.command);
    await greedy.uploadOutputs(first.from, first.command, {
      stdout: result.stdout,
      stderr: result.stderr,
    });
    await greedy.jobDone(first.from, first.command, result.exitCode);
    await eventually(
      async () => ((await jm.queue.countActiveOf(prosody.jid('greedy'))) === 1 ? true : undefined),
      'the first lease to end',
    );
    await greedy.fetchJob(jm.jid);
    // Another account is not held back by greedy's cap.
    const other = await agent('other');
    await other.fetchJob(jm.jid);
  });
});

describe('batches on the Redis queue (issue #17)', () => {
  it('copilot-job-submit --array and --number queue the right jobs; copilot-jobs cancels by batch', async () => {
    const repo = path.resolve(import.meta.dirname, '../../..');
    // The CLIs use Redis's default key namespace, with a waiting list of this test's own.
    const store = [
      `--JM_STATE_DIR=${tempDir('jm-batch-')}`,
      `--JM_REDIS_SERVER=${redis.url}`,
      '--JM_WAITING_JOBS_LIST=batch-test:waiting',
    ];
    const cli = async (tool: string, args: string[]): Promise<string[]> => {
      const { stdout } = await promisify(execFile)(
        path.join(repo, 'node_modules/.bin/tsx'),
        [path.join(repo, 'manager/bin', `${tool}.ts`), ...args, ...store],
        { cwd: repo, timeout: 60_000 },
      );
      return stdout.trim().split('\n');
    };
    const [arrayLine, ...arrayIds] = await cli('copilot-job-submit', [
      `--command=${REPO_CALCULATOR}`,
      '--array',
      '3',
      '--env',
      'A=1',
    ]);
    const [numberLine, ...numberIds] = await cli('copilot-job-submit', [
      `--command=${REPO_CALCULATOR}`,
      '--number=2',
    ]);
    expect(arrayIds).toHaveLength(3);
    expect(numberIds).toHaveLength(2);
    const shown = await cli('copilot-jobs', ['show', arrayIds[2] ?? '']);
    expect(shown).toContain('environment: A=1 COPILOT_TASK_INDEX=2');
    expect(shown).toContain(`batch: ${arrayLine?.replace(/^batch /, '') ?? ''}`);
    expect(await cli('copilot-jobs', ['show', numberIds[1] ?? ''])).toContain('state: queued');
    const numberBatch = numberLine?.replace(/^batch /, '') ?? '';
    expect(await cli('copilot-jobs', ['cancel', '--batch', numberBatch])).toEqual([
      `batch ${numberBatch}: 2 cancelled, 0 left as they were`,
    ]);
    const listed = await cli('copilot-jobs', ['list', '--batch', numberBatch]);
    expect(listed.slice(1).map((line) => line.split(/\s+/)[1])).toEqual(['cancelled', 'cancelled']);
  });
});

describe('system.* figures (report 2.3.2)', () => {
  let carbon: CarbonServer;
  let monitor: Monitor;

  beforeAll(async () => {
    carbon = await startCarbon({ retentions: '1s:1h' });
  });

  afterAll(async () => {
    await carbon?.stop();
  });

  it('reach the Monitor and Carbon under the manager component', async () => {
    monitor = track(
      await startMonitor({
        config: {
          jabber: {
            server: `127.0.0.1:${prosody.port}`,
            domain: prosody.domain,
            id: 'monitor',
            password: PASSWORD,
          },
          carbon: { host: '127.0.0.1', port: carbon.linePort },
          sampleSeconds: 3600,
          http: { host: '127.0.0.1', port: 0 },
          pollSeconds: 3600,
          carbonBufferLines: 10_000,
          allowedSenders: [prosody.jid('jm')],
          maxSeries: 5000,
        },
        logger: silentLogger,
      }),
    );
    const stateDir = tempDir('jm-system-');
    const config = managerConfig(prosody, 'jm', stateDir, {
      MON_JABBER_ADDRESS: `${prosody.jid('monitor')}/monitor`,
    });
    track(await startJobManager(config, { systemReportIntervalMs: 300 }));
    const prefix = 'copilot.jobmanager.generic.jm.system.';
    const paths = await eventually(
      async () => {
        const known = monitor.aggregator
          .valueSeries()
          .map((series) => series.path)
          .filter((name) => name.startsWith(prefix));
        const wanted = [
          'load.1min',
          'load.5min',
          'load.15min',
          'ram.used.mem',
          'ram.available.swap',
        ];
        const complete =
          wanted.every((name) => known.includes(prefix + name)) &&
          known.some((name) => name.startsWith(`${prefix}disk.available.`)) &&
          known.some((name) => name.startsWith(`${prefix}disk.used.`)) &&
          known.some((name) => name.startsWith(`${prefix}net.in.`)) &&
          known.some((name) => name.startsWith(`${prefix}net.out.`));
        return complete ? known : undefined;
      },
      'system.* values at the Monitor',
      15_000,
    );
    expect(paths.every((name) => /^[A-Za-z0-9_.-]+$/.test(name))).toBe(true);
    await carbon.waitForMetrics([`${prefix}load.1min`, `${prefix}ram.used.mem`], 20_000);
  });
});
