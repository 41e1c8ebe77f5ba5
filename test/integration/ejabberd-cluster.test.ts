/**
 * Scale-out with existing engines (issue #14): two ejabberd nodes clustered on this machine
 * (`ejabberdctl join_cluster`), a round-robin TCP balancer in front of them (what HAProxy or
 * DNS SRV records do in a deployment), two real job managers (copilot-jobmanager-generic
 * processes, accounts jm1 and jm2) sharing one Redis queue and one storage and done directory,
 * and four real agents (createAgent, Docker) that list both managers and are spread over both
 * nodes by the balancer.
 *
 * - Every job runs exactly once: one agent's history has it, the queue says done after one
 *   lease, the done directory holds its stdout.
 * - kill -9 of one manager mid-run loses nothing: the agents holding its jobs get an output
 *   directory and send jobDone to the other manager (both answer for any job of the shared
 *   queue), so the jobs are done without waiting for their leases to run out. A job whose inputs
 *   were still on the dead manager's storage comes back as download-failed and is queued again.
 * - kill -9 of one ejabberd node mid-run loses nothing: the clients it held (agents, perhaps a
 *   manager) reconnect through the balancer to the node still up, and the jobs complete.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { createAgent, type Agent } from '@copilot/core/agent';
import type { JobQueue } from '@manager/job-manager/job-queue';
import type { JobRecord } from '@manager/job-manager/job-record';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { openJobQueue } from '@manager/job-manager/open-job-queue';
import { submitJob } from '@manager/job-manager/job-submission';
import {
  REPO_ROOT,
  ensureDocker,
  startEjabberdCluster,
  startProcess,
  startRedis,
  until,
  type EjabberdCluster,
  type RedisServer,
  type ServiceProcess,
} from '@test/harness';

import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const MANAGERS = ['jm1', 'jm2'] as const;
const AGENTS = 4;
const AGENT_PASSWORD = 'agent-secret';
const WAITING_LIST = 'cluster-waiting-jobs';

let cluster: EjabberdCluster;
let redis: RedisServer;
let docker: Docker;
let root: string;
let queue: JobQueue;
let paths: JobStorePaths;
const managers = new Map<string, ServiceProcess>();
const agents: Agent[] = [];

async function startManager(name: (typeof MANAGERS)[number]): Promise<ServiceProcess> {
  const proc = await startProcess({
    name: `jobmanager-${name}`,
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO_ROOT, 'manager/bin/copilot-jobmanager-generic.ts')],
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...localManagerValues(cluster.front, path.join(root, name), {
        JM_JABBER_ID: name,
        JM_JABBER_RESOURCE: 'generic',
        JM_REDIS_SERVER: redis.url,
        JM_WAITING_JOBS_LIST: WAITING_LIST,
        // Shared by both managers: either can finalise a job whose output the other took.
        JM_STORAGE_DIR: path.join(root, 'storage'),
        JM_DONE_JOB_DIR: path.join(root, 'done'),
        JM_LEASE_SECONDS: '60',
      }),
    },
    readyTimeoutMs: 60_000,
    ready: async (started, signal) => {
      await until(
        `${name} started`,
        () => signal.aborted || /job manager started/.test(started.logTail(200)),
        60_000,
      );
    },
  });
  managers.set(name, proc);
  return proc;
}

function startAgent(index: number): Agent {
  const agent = createAgent({
    settings: localAgentSettings(cluster.front, `agent${index}`, AGENT_PASSWORD, {
      jobManagerAddress: MANAGERS.map((name) => cluster.front.jid(name)).join(' '),
      cpuLimitPercent: 100,
      memoryLimitMb: 256,
    }),
    dataDir: path.join(root, `agent${index}`),
    docker,
    resource: `agent${index}`,
    replyTimeoutMs: 2_000,
    fetchBackoff: { initialMs: 300, maxMs: 1_500, jitter: 0.3 },
    retryBackoff: { initialMs: 300, maxMs: 1_500, jitter: 0.3 },
    session: { ackTimeoutMs: 1_000, reconnect: { initialMs: 300, maxMs: 2_000, jitter: 0.3 } },
    sensors: null,
    readIdle: false,
  });
  agents.push(agent);
  return agent;
}

/** Submits `count` jobs that sleep, then print their name. */
async function submitJobs(label: string, count: number, sleepSeconds: number): Promise<string[]> {
  const script = path.join(root, `${label}.sh`);
  fs.writeFileSync(script, `#!/bin/sh\nsleep ${sleepSeconds}\necho "$1"\n`, { mode: 0o755 });
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const job = await submitJob(queue, paths, {
      commandFile: script,
      arguments: `${label}-${index}`,
    });
    ids.push(job.id);
  }
  return ids;
}

async function records(ids: readonly string[]): Promise<JobRecord[]> {
  const found = await Promise.all(ids.map((id) => queue.get(id)));
  return found.filter((job): job is JobRecord => job !== undefined);
}

async function allDone(ids: readonly string[], timeoutMs: number): Promise<JobRecord[]> {
  return until(
    `${ids.length} jobs done`,
    async () => {
      const jobs = await records(ids);
      return jobs.length === ids.length && jobs.every((job) => job.state === 'done') && jobs;
    },
    timeoutMs,
  );
}

/**
 * Which agent ran which job (each agent's history), as [jobId, agent] pairs, once every job is
 * there: an agent writes its history just after the manager acknowledged jobDone.
 */
async function runsOf(ids: readonly string[]): Promise<Array<[string, string]>> {
  return until(
    'every job in an agent history',
    async () => {
      const runs = await historyRuns(ids);
      return new Set(runs.map(([id]) => id)).size === ids.length && runs;
    },
    10_000,
  );
}

async function historyRuns(ids: readonly string[]): Promise<Array<[string, string]>> {
  const runs: Array<[string, string]> = [];
  for (const [index, agent] of agents.entries()) {
    const view = await agent.commands.getJobs(1_000);
    for (const record of view.history) {
      if (ids.includes(record.jobId)) runs.push([record.jobId, `agent${index}`]);
    }
  }
  return runs;
}

function stdoutOf(id: string): string {
  return fs.readFileSync(path.join(root, 'done', id, 'stdout'), 'utf8');
}

beforeAll(async () => {
  docker = await ensureDocker();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-cluster-'));
  cluster = await startEjabberdCluster({
    users: [
      ...MANAGERS.map((username) => ({ username, password: MANAGER_PASSWORD })),
      ...Array.from({ length: AGENTS }, (_, index) => ({
        username: `agent${index}`,
        password: AGENT_PASSWORD,
      })),
    ],
  });
  redis = await startRedis();
  queue = await openJobQueue({
    queueDb: path.join(root, 'unused.sqlite'),
    waitingJobsList: WAITING_LIST,
    redisServer: redis.url,
  });
  paths = new JobStorePaths(path.join(root, 'storage'));
  for (const name of MANAGERS) await startManager(name);
  for (let index = 0; index < AGENTS; index += 1) await startAgent(index).start();
  await until(
    'every agent online',
    () => agents.every((agent) => agent.session?.isOnline ?? false),
    30_000,
  );
}, 150_000);

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  for (const proc of managers.values()) await proc.stop().catch(() => undefined);
  await queue?.close();
  await redis?.stop();
  await cluster?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('two ejabberd nodes, two managers on one Redis queue, four agents', () => {
  it('the nodes form one cluster and the agents are spread over both', async () => {
    const [first, second] = cluster.nodes;
    expect((await cluster.members()).sort()).toEqual([first.nodeName, second.nodeName].sort());
    const byNode = cluster.balancer.connectionsByBackend();
    // 2 managers + 4 agents, round robin: three connections on each node.
    expect(byNode.get(first.port) ?? 0).toBeGreaterThanOrEqual(2);
    expect(byNode.get(second.port) ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('every job runs exactly once', async () => {
    const ids = await submitJobs('once', 8, 1);
    const jobs = await allDone(ids, 60_000);
    expect(jobs.map((job) => job.attempts)).toEqual(ids.map(() => 1));
    const runs = await runsOf(ids);
    expect(runs.map(([id]) => id).sort()).toEqual([...ids].sort());
    for (const [index, id] of ids.entries()) expect(stdoutOf(id)).toBe(`once-${index}\n`);
  }, 90_000);

  it('kill -9 of one manager mid-run loses nothing', async () => {
    const ids = await submitJobs('manager-kill', 6, 4);
    await until(
      'two jobs running',
      async () => (await records(ids)).filter((job) => job.state === 'running').length >= 2,
      30_000,
    );
    await managers.get('jm1')?.kill9();
    const jobs = await allDone(ids, 50_000);
    // Done inside the 60 s lease: nothing waited for a lease of the dead manager to run out. A
    // job leased by jm1 just before the kill could not fetch its inputs from jm1's storage, and
    // jm2 put it back in the queue at the agent's jobDone: a second lease, never a third.
    expect(jobs.every((job) => job.attempts <= 2)).toBe(true);
    const runs = await runsOf(ids);
    expect(new Set(runs.map(([id]) => id))).toEqual(new Set(ids));
    for (const [index, id] of ids.entries()) expect(stdoutOf(id)).toBe(`manager-kill-${index}\n`);
  }, 90_000);

  it('kill -9 of one ejabberd node mid-run loses nothing', async () => {
    const [first, second] = cluster.nodes;
    const ids = await submitJobs('node-kill', 6, 4);
    await until(
      'two jobs running',
      async () => (await records(ids)).filter((job) => job.state === 'running').length >= 2,
      30_000,
    );
    await second.kill9();
    const jobs = await allDone(ids, 75_000);
    expect(jobs.every((job) => job.state === 'done')).toBe(true);
    for (const [index, id] of ids.entries()) expect(stdoutOf(id)).toBe(`node-kill-${index}\n`);
    const runs = await runsOf(ids);
    expect(new Set(runs.map(([id]) => id))).toEqual(new Set(ids));
    // Everyone is back, on the node still up.
    await until(
      'every agent online again',
      () => agents.every((agent) => agent.session?.isOnline ?? false),
      30_000,
    );
    const byNode = cluster.balancer.connectionsByBackend();
    expect(byNode.get(second.port) ?? 0).toBe(0);
    expect(byNode.get(first.port) ?? 0).toBeGreaterThanOrEqual(AGENTS);
  }, 120_000);
});
