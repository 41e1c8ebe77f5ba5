/**
 * Fair share and quotas on real servers (issue #17): Prosody, Redis, manager instances and
 * test agents speaking the protocol. Two owners with shares 3:1 get work 3:1 from two managers
 * sharing one Redis queue; an owner at its running cap waits while another owner's jobs run;
 * `copilot-job-submit --number 1000` queues 1000 jobs on SQLite in under 2 s.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as submitMain } from '@manager/bin/copilot-job-submit';
import { startTestXmppServer, startRedis, type XmppServer, type RedisServer } from '@test/harness';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { newJobId, type JobSpec } from '@manager/job-manager/job-record';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';
import { managerConfig, PASSWORD, REPO_CALCULATOR, tempDir } from './manager-fixture';
import { TestAgent } from './test-agent';

const SPEC: JobSpec = {
  command: 'calculator.sh',
  arguments: '',
  environment: '',
  packages: '',
  inputFiles: 'calculator.sh',
};
const AGENTS = ['w1', 'w2', 'w3', 'w4'];

let prosody: XmppServer;
let redis: RedisServer;
const running: Array<{ stop(): Promise<void> }> = [];

function track<T extends { stop(): Promise<void> }>(thing: T): T {
  running.push(thing);
  return thing;
}

beforeAll(async () => {
  [prosody, redis] = await Promise.all([
    startTestXmppServer({
      users: ['jm', 'jm2', ...AGENTS].map((username) => ({ username, password: PASSWORD })),
    }),
    startRedis(),
  ]);
});

afterEach(async () => {
  for (const thing of running.splice(0).reverse()) await thing.stop();
});

afterAll(async () => {
  await prosody?.stop();
  await redis?.stop();
});

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

function jobsOf(owner: string, count: number) {
  return Array.from({ length: count }, () => ({ id: newJobId(), spec: { ...SPEC, owner } }));
}

describe('fair share between owners (a real XMPP server, Redis, two managers)', () => {
  it('gives two owners with shares 3:1 work 3:1 within 10 %', async () => {
    const stateDir = tempDir('jm-fair-');
    const ns = `fair${process.pid}:`;
    const extra = {
      JM_REDIS_SERVER: `127.0.0.1:${redis.port}`,
      JM_WAITING_JOBS_LIST: `${ns}waiting-jobs`,
      JM_OWNER_SHARES: 'alice=3 bob=1',
      JM_MAX_LEASES_PER_AGENT: '0',
    };
    const managers: RunningJobManager[] = [
      track(
        await startJobManager(managerConfig(prosody, 'jm', stateDir, extra), {
          redisNamespace: ns,
        }),
      ),
      track(
        await startJobManager(managerConfig(prosody, 'jm2', stateDir, extra), {
          redisNamespace: ns,
        }),
      ),
    ];
    const queue = managers[0]?.queue;
    if (!queue) throw new Error('no manager');
    // Both owners always have queued jobs: 200 each, 200 handed out.
    await queue.addMany([...jobsOf('bob', 200), ...jobsOf('alice', 200)]);
    const workers = await Promise.all(AGENTS.map(agent));
    const served: string[] = [];
    const byManager = new Map<string, number>();
    await Promise.all(
      workers.map(async (worker, index) => {
        const manager = managers[index % 2];
        if (!manager) return;
        while (served.length < 200) {
          const runJob = await worker.fetchJob(manager.jid);
          const job = await queue.get(runJob.command.job.id);
          served.push(job?.owner ?? '?');
          byManager.set(runJob.from, (byManager.get(runJob.from) ?? 0) + 1);
          await worker.jobDone(runJob.from, runJob.command, 0);
        }
      }),
    );
    const alice = served.filter((owner) => owner === 'alice').length;
    const bob = served.filter((owner) => owner === 'bob').length;
    expect(alice + bob).toBe(served.length);
    expect(alice / bob).toBeGreaterThanOrEqual(2.7);
    expect(alice / bob).toBeLessThanOrEqual(3.3);
    // Every job was handed out once, and both managers served.
    const leased = (await queue.list()).filter((job) => job.attempts > 0);
    expect(leased).toHaveLength(served.length);
    expect(leased.every((job) => job.attempts === 1)).toBe(true);
    expect([...byManager.values()].every((count) => count > 20)).toBe(true);
    const owners = await queue.owners();
    expect(owners.map((entry) => [entry.owner, entry.queued])).toEqual([
      ['alice', 200 - alice],
      ['bob', 200 - bob],
    ]);
  }, 120_000);
});

describe('quotas (a real XMPP server, SQLite)', () => {
  it("stops an owner's extra jobs at JM_OWNER_MAX_RUNNING while another owner's run", async () => {
    const jm = track(
      await startJobManager(
        managerConfig(prosody, 'jm', tempDir('jm-quota-'), {
          JM_OWNER_MAX_RUNNING: '0 alice=1',
        }),
      ),
    );
    const alice = jobsOf('alice', 3);
    const bob = jobsOf('bob', 3);
    await jm.queue.addMany([...alice, ...bob]);
    const [w1, w2, w3, w4] = await Promise.all(AGENTS.map(agent));
    if (!w1 || !w2 || !w3 || !w4) throw new Error('no agents');
    // alice and bob are even: alice first by name; then alice is at her cap.
    const first = await w1.fetchJob(jm.jid);
    expect(first.command.job.id).toBe(alice[0]?.id);
    const others = [
      await w2.fetchJob(jm.jid),
      await w3.fetchJob(jm.jid),
      await w4.fetchJob(jm.jid),
    ];
    expect(others.map((runJob) => runJob.command.job.id)).toEqual(bob.map((job) => job.id));
    // Only alice's capped jobs are left: nobody is offered one.
    await w2.send(jm.jid, { command: 'want_getJob', agentHost: 'w2', jdl: w2.jdl });
    expect(await w2.receives('have_getJob', 1500)).toBe(false);
    expect(await jm.queue.countQueued()).toBe(2);
    expect((await jm.queue.owners()).find((entry) => entry.owner === 'alice')).toMatchObject({
      queued: 2,
      active: 1,
    });
    // alice's running job ends: her next one runs.
    await w1.jobDone(jm.jid, first.command, 0);
    const next = await w2.fetchJob(jm.jid);
    expect(next.command.job.id).toBe(alice[1]?.id);
  }, 60_000);
});

describe('copilot-job-submit --number on SQLite', () => {
  it('queues 1000 jobs in under 2 s', async () => {
    const stateDir = tempDir('jm-number-');
    const args = [
      `--command=${REPO_CALCULATOR}`,
      '--number=1000',
      '--owner=mc',
      `--JM_STATE_DIR=${stateDir}`,
    ];
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    let seconds: number;
    try {
      // The CLI's submission, in this process: options, store, 1000 input dirs, one transaction.
      const started = performance.now();
      expect(await submitMain(args)).toBe(0);
      seconds = (performance.now() - started) / 1000;
    } finally {
      write.mockRestore();
    }
    expect(printed.join('').trim().split('\n')).toHaveLength(1001);
    const queue = new SqliteJobQueue(path.join(stateDir, 'queue.sqlite'));
    try {
      expect(await queue.countQueued()).toBe(1000);
      expect((await queue.owners()).map((entry) => [entry.owner, entry.queued])).toEqual([
        ['mc', 1000],
      ]);
    } finally {
      await queue.close();
    }
    expect(seconds).toBeLessThan(2);
  }, 60_000);
});
