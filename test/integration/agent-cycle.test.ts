// The whole job cycle: the agent (createAgent) and the real Generic Job and Storage Manager
// (startJobManager) over a real Prosody, jobs run in real Docker containers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import {
  ensureDocker,
  startTestXmppServer,
  startRedis,
  type XmppServer,
  type RedisServer,
  until,
} from '@test/harness';
import { createAgent, type Agent, type AgentOptions } from '@copilot/core/agent';
import type { JobHistoryRecord } from '@copilot/contract/ui-contract';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import type { JobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import type { JobRecord } from '@manager/job-manager/job-record';
import { managerConfigFor } from './agent-manager-fixture';
import { localAgentSettings } from './local-settings';

const PASSWORD = 'secret-pw';
let prosody: XmppServer;
// The queue is the manager's Redis backend (JM_REDIS_SERVER), a real redis-server.
let redis: RedisServer;
let docker: Docker;
let root: string;
const agents: Agent[] = [];
const managers: RunningJobManager[] = [];

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['jm', 'agent1', 'agent2', 'agent3', 'agent4', 'agent5', 'agent6', 'agent7'].map(
      (username) => ({
        username,
        password: PASSWORD,
      }),
    ),
  });
  redis = await startRedis();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-cycle-'));
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  for (const manager of managers.splice(0)) await manager.stop();
});

afterAll(async () => {
  await prosody?.stop();
  await redis?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

function managerConfig(name: string): JobManagerConfig {
  return managerConfigFor({
    prosody,
    username: 'jm',
    password: PASSWORD,
    stateDir: path.join(root, name),
    redisUrl: redis.url,
  });
}

async function startManager(config: JobManagerConfig): Promise<RunningJobManager> {
  const manager = await startJobManager(config, {
    session: { ackTimeoutMs: 1000 },
    redisNamespace: `agent-cycle-${path.basename(config.stateDir)}`,
  });
  managers.push(manager);
  return manager;
}

async function startAgent(user: string, extra: Partial<AgentOptions> = {}): Promise<Agent> {
  const agent = createAgent({
    settings: localAgentSettings(prosody, user, PASSWORD, {
      cpuLimitPercent: 100,
      memoryLimitMb: 256,
      diskLimitMb: 200,
    }),
    dataDir: path.join(root, `${user}-${crypto.randomBytes(3).toString('hex')}`),
    docker,
    replyTimeoutMs: 3000,
    fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
    retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000 },
    ...extra,
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

function script(dir: string, name: string, text: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

async function waitDone(
  manager: RunningJobManager,
  id: string,
  timeoutMs = 60_000,
): Promise<JobRecord> {
  const job = await waitForJob(manager.queue, id, timeoutMs);
  if (!job) throw new Error(`job ${id} did not finish in ${timeoutMs} ms`);
  return job;
}

function nextJobEvent(agent: Agent, jobId: string): Promise<JobHistoryRecord> {
  return new Promise((resolve) => {
    const listener = (record: JobHistoryRecord): void => {
      if (record.jobId !== jobId) return;
      agent.events.off('job', listener);
      resolve(record);
    };
    agent.events.on('job', listener);
  });
}

describe('agent ↔ generic job manager over a real XMPP server', () => {
  it('runs calculator.sh end to end: the done dir holds stdout 4, history records the job', async () => {
    const manager = await startManager(managerConfig('calc'));
    const jobsDir = path.join(root, 'calc-src');
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: script(
        jobsDir,
        'calculator.sh',
        '#!/bin/bash\necho "2+2" | bc\necho result > output/extra.txt\n',
      ),
    });
    const agent = await startAgent('agent1');
    const finished = nextJobEvent(agent, submitted.id);
    const job = await waitDone(manager, submitted.id);
    expect(job).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done' });
    const done = path.join(manager.config.doneJobDir, submitted.id);
    expect(fs.readFileSync(path.join(done, 'stdout'), 'utf8')).toBe('4\n');
    expect(fs.existsSync(path.join(done, `${submitted.id}.tgz`))).toBe(true);
    const record = await finished;
    expect(record).toMatchObject({
      jobId: submitted.id,
      state: 'done',
      exitCode: 0,
      command: 'calculator.sh',
    });
    const view = await agent.commands.getJobs();
    expect(view.history[0]?.jobId).toBe(submitted.id);
    expect(view.totals).toMatchObject({ jobs: 1, succeeded: 1, failed: 0 });
    // the history survives a restart of the agent (a new instance over the same data dir)
    const lines = fs
      .readFileSync(path.join(agent.dataDir, 'job-history.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ jobId: submitted.id, state: 'done' });
    // the work dir of a delivered job is gone
    expect(fs.existsSync(path.join(agent.dataDir, 'jobs', submitted.id))).toBe(false);
  });

  it('reports a failing job (exit 3) as failed with exit code 3, and a timeout as timeout', async () => {
    const manager = await startManager(managerConfig('fail'));
    const dir = path.join(root, 'fail-src');
    const failing = await submitJob(manager.queue, manager.paths, {
      commandFile: script(dir, 'fail.sh', '#!/bin/bash\necho bad >&2\nexit 3\n'),
    });
    const slow = await submitJob(manager.queue, manager.paths, {
      commandFile: script(dir, 'slow.sh', '#!/bin/bash\necho start\nsleep 60\n'),
    });
    const agent = await startAgent('agent2', { wallClockLimitSeconds: 2 });
    const failed = await waitDone(manager, failing.id);
    expect(failed).toMatchObject({ state: 'failed', exitCode: 3, agentState: 'failed' });
    expect(
      fs.readFileSync(path.join(manager.config.doneJobDir, failing.id, 'stderr'), 'utf8'),
    ).toBe('bad\n');
    const timedOut = await waitDone(manager, slow.id);
    expect(timedOut).toMatchObject({ state: 'failed', agentState: 'timeout' });
    const stderr = fs.readFileSync(path.join(manager.config.doneJobDir, slow.id, 'stderr'), 'utf8');
    expect(stderr).toMatch(/wall-clock limit of 2 s/);
    const view = await agent.commands.getJobs();
    expect(view.history.map((job) => job.state).sort()).toEqual(['failed', 'timeout']);
  });

  it('reports an input download that fails (404) and goes on with the next job', async () => {
    const manager = await startManager(managerConfig('missing'));
    const dir = path.join(root, 'missing-src');
    const broken = await submitJob(manager.queue, manager.paths, {
      commandFile: script(dir, 'calculator.sh', '#!/bin/bash\necho "2+2" | bc\n'),
      inputFiles: [script(dir, 'data.txt', 'x\n')],
    });
    fs.rmSync(manager.paths.file(broken.id, 'input', 'data.txt'));
    const agent = await startAgent('agent3');
    const job = await waitDone(manager, broken.id);
    expect(job).toMatchObject({ state: 'failed', agentState: 'download-failed', exitCode: -1 });
    const stderr = fs.readFileSync(
      path.join(manager.config.doneJobDir, broken.id, 'stderr'),
      'utf8',
    );
    expect(stderr).toMatch(/input download failed: .*HTTP 404/);
    const next = await submitJob(manager.queue, manager.paths, {
      commandFile: script(
        path.join(root, 'missing-src2'),
        'calculator.sh',
        '#!/bin/bash\necho "2+2" | bc\n',
      ),
    });
    expect(await waitDone(manager, next.id)).toMatchObject({ state: 'done', exitCode: 0 });
    const history = (await agent.commands.getJobs()).history;
    expect(history.find((record) => record.jobId === broken.id)?.state).toBe('download-failed');
  });

  it('keeps a finished result while the manager is down and delivers it when it is back', async () => {
    const config = managerConfig('restart');
    let manager = await startManager(config);
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: script(
        path.join(root, 'restart-src'),
        'late.sh',
        '#!/bin/bash\nsleep 3\necho "6*7" | bc\n',
      ),
    });
    const agent = await startAgent('agent4');
    await until('the job to run', async () =>
      (await agent.commands.getStatus()).running.some((job) => job.phase === 'running'),
    );
    await manager.stop();
    managers.splice(managers.indexOf(manager), 1);
    // the job finishes while no manager is there; the agent keeps the result on disk
    const jobDir = path.join(agent.dataDir, 'jobs', submitted.id);
    await until('the result to be persisted', () => {
      try {
        const state = JSON.parse(fs.readFileSync(path.join(jobDir, 'job.json'), 'utf8')) as {
          phase: string;
        };
        return state.phase === 'finished' ? true : undefined;
      } catch {
        return undefined;
      }
    });
    await sleep(3000);
    expect((await agent.commands.getStatus()).running[0]?.phase).toBe('uploading');
    manager = await startManager(config);
    const job = await waitDone(manager, submitted.id, 60_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0 });
    expect(fs.readFileSync(path.join(config.doneJobDir, submitted.id, 'stdout'), 'utf8')).toBe(
      '42\n',
    );
  });

  it('pauses the running container (State.Paused) and resumes it; the job then finishes', async () => {
    const manager = await startManager(managerConfig('pause'));
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: script(
        path.join(root, 'pause-src'),
        'count.sh',
        '#!/bin/bash\nfor i in 1 2 3 4; do echo $i; sleep 0.5; done\n',
      ),
    });
    const agent = await startAgent('agent5');
    await until('the job to run', async () =>
      (await agent.commands.getStatus()).running.some((job) => job.phase === 'running'),
    );
    const container = async (): Promise<Docker.ContainerInspectInfo> => {
      const [info] = await docker.listContainers({
        all: true,
        filters: { label: [`copilot.job=${submitted.id}`] },
      });
      if (!info) throw new Error('no job container');
      return docker.getContainer(info.Id).inspect();
    };
    const status = await agent.commands.pause();
    expect(status).toMatchObject({ activity: 'paused', paused: true, statusLine: 'Paused' });
    await until(
      'the container to be frozen',
      async () => ((await container()).State.Paused ? true : undefined),
      10_000,
    );
    const inspected = await container();
    expect(inspected.HostConfig).toMatchObject({
      CapDrop: ['ALL'],
      ReadonlyRootfs: true,
      NetworkMode: 'none',
      PidsLimit: 256,
      Memory: 256 * 1024 * 1024,
    });
    expect(inspected.Config.User).toBe('1000:1000');
    expect(inspected.HostConfig.NanoCpus).toBe(os.cpus().length * 1_000_000_000);
    expect((await agent.commands.getStatus()).running[0]?.phase).toBe('paused');
    await sleep(3000);
    expect((await manager.queue.get(submitted.id))?.state).not.toBe('done');
    // a live policy change reaches the frozen container
    const changed = await agent.commands.setSettings({ cpuLimitPercent: 50 });
    expect(changed.ok).toBe(true);
    await until('NanoCpus to change', async () =>
      (await container()).HostConfig.NanoCpus === (os.cpus().length * 1_000_000_000) / 2
        ? true
        : undefined,
    );
    await agent.commands.resume();
    await until(
      'the container to thaw',
      async () => ((await container()).State.Paused ? undefined : true),
      10_000,
    );
    const job = await waitDone(manager, submitted.id);
    expect(job).toMatchObject({ state: 'done', exitCode: 0 });
    expect(
      fs.readFileSync(path.join(manager.config.doneJobDir, submitted.id, 'stdout'), 'utf8'),
    ).toBe('1\n2\n3\n4\n');
  });
});
