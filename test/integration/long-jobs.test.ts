/**
 * Leases that follow a live agent (issue #16): a job that runs much longer than the manager's
 * lease is leased once and finishes once, because the agent renews the lease while the job runs
 * (renewLease). A job cancelled while it runs is stopped at the next renewal (jobRefused).
 * Real Prosody, the real manager and the real agent with Docker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { cancelJob, submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { createAgent, type Agent } from '@copilot/core/agent';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { ensureDocker, startTestXmppServer, type XmppServer } from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const PASSWORD = 'volunteer-pw';
const LEASE_SECONDS = 2;

let prosody: XmppServer;
let docker: Docker;
let root: string;
const agents: Agent[] = [];
const managers: RunningJobManager[] = [];

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      { username: 'agent1', password: PASSWORD },
      { username: 'agent2', password: PASSWORD },
    ],
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'long-jobs-'));
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  for (const manager of managers.splice(0)) await manager.stop();
});

afterAll(async () => {
  await prosody?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function startManager(log: LogRecord[]): Promise<RunningJobManager> {
  const config = loadJobManagerConfig(
    [],
    localManagerValues(prosody, path.join(root, 'jm'), {
      JM_LEASE_SECONDS: String(LEASE_SECONDS),
    }),
  );
  const manager = await startJobManager(config, {
    logger: createLogger('jm', (record) => log.push(record)),
    reaperIntervalMs: 200,
  });
  managers.push(manager);
  return manager;
}

async function startAgent(user: string, log: LogRecord[] = []): Promise<Agent> {
  const agent = createAgent({
    settings: localAgentSettings(prosody, user, PASSWORD, { cpuLimitPercent: 100 }),
    dataDir: fs.mkdtempSync(path.join(root, `${user}-data-`)),
    docker,
    replyTimeoutMs: 3000,
    leaseRenewalMs: 500,
    fetchBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
    retryBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000 },
    echoLog: (record) => log.push(record),
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

function script(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(root, 'src-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

describe('a job longer than its lease', () => {
  it('is leased once and finishes once while its agent renews the lease', async () => {
    const managerLog: LogRecord[] = [];
    const manager = await startManager(managerLog);
    // Two agents: a lease that ran out would hand the job to the second one.
    await startAgent('agent1');
    await startAgent('agent2');
    const job = await submitJob(manager.queue, manager.paths, {
      commandFile: script('long.sh', '#!/bin/bash\nsleep 8\necho "2+2" | bc\n'),
    });
    const finished = await waitForJob(manager.queue, job.id, 60_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0, attempts: 1 });
    const leased = managerLog.filter((record) => record.message === 'job leased');
    expect(leased.map((record) => record.fields?.job)).toEqual([job.id]);
    const stdout = path.join(manager.config.doneJobDir, job.id, 'stdout');
    expect(fs.readFileSync(stdout, 'utf8')).toBe('4\n');
  }, 90_000);

  it('is stopped soon after an operator cancels it while it runs', async () => {
    const manager = await startManager([]);
    const agentLog: LogRecord[] = [];
    const agent = await startAgent('agent1', agentLog);
    const job = await submitJob(manager.queue, manager.paths, {
      commandFile: script('forever.sh', '#!/bin/bash\nsleep 600\n'),
    });
    const deadline = Date.now() + 30_000;
    while ((await manager.queue.get(job.id))?.state !== 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await cancelJob(manager.queue, job.id);
    const stoppedBy = Date.now() + 15_000;
    let history = await agent.commands.getJobs();
    while (history.history.length === 0 && Date.now() < stoppedBy) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      history = await agent.commands.getJobs();
    }
    expect(history.history[0]).toMatchObject({ jobId: job.id, state: 'aborted' });
    expect(history.running).toEqual([]);
    expect((await manager.queue.get(job.id))?.state).toBe('cancelled');
  }, 90_000);
});
