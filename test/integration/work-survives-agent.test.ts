/**
 * Work survives the agent (issue #16): an agent stopped while its job runs leaves the container
 * running, and the next start with the same data dir adopts it, so the job's result arrives
 * once, with its whole stdout. A job whose container is gone while the agent is down (a host
 * reboot, simulated by removing the container) starts again, finds its checkpoint dir and sees
 * COPILOT_RESUMED=1. A frozen container stays frozen while the agent is down, and the next
 * start applies its own policy to it. The fraction done a job writes to $COPILOT_PROGRESS_FILE
 * reaches getStatus and getJobs. Real Prosody, the real manager and the real agent with Docker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { createAgent, type Agent } from '@copilot/core/agent';
import { JOB_LABEL } from '@copilot/core/docker-runner';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { ensureDocker, startTestXmppServer, type XmppServer, until } from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const PASSWORD = 'volunteer-pw';

let prosody: XmppServer;
let docker: Docker;
let root: string;
const agents: Agent[] = [];
const managers: RunningJobManager[] = [];
const jobIds: string[] = [];

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      { username: 'agent1', password: PASSWORD },
    ],
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'work-survives-'));
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  for (const manager of managers.splice(0)) await manager.stop();
  for (const info of await jobContainers(jobIds.splice(0))) {
    await docker.getContainer(info.Id).remove({ force: true });
  }
});

afterAll(async () => {
  await prosody?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function jobContainers(ids: readonly string[]): Promise<Docker.ContainerInfo[]> {
  const all = await docker.listContainers({ all: true, filters: { label: [JOB_LABEL] } });
  return all.filter((info) => ids.includes(info.Labels[JOB_LABEL] ?? ''));
}

async function startManager(log: LogRecord[]): Promise<RunningJobManager> {
  const config = loadJobManagerConfig([], localManagerValues(prosody, path.join(root, 'jm')));
  const manager = await startJobManager(config, {
    logger: createLogger('jm', (record) => log.push(record)),
  });
  managers.push(manager);
  return manager;
}

async function startAgent(dataDir: string, log: LogRecord[] = []): Promise<Agent> {
  const agent = createAgent({
    settings: localAgentSettings(prosody, 'agent1', PASSWORD, { cpuLimitPercent: 100 }),
    dataDir,
    docker,
    replyTimeoutMs: 3000,
    fetchBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
    retryBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000 },
    echoLog: (record) => log.push(record),
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

async function stopAgent(agent: Agent): Promise<void> {
  await agent.stop();
  agents.splice(agents.indexOf(agent), 1);
}

function script(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(root, 'src-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

function leases(log: LogRecord[]): unknown[] {
  return log.filter((record) => record.message === 'job leased').map((r) => r.fields?.job);
}

describe('work survives the agent', () => {
  it('adopts the running container after an agent restart: one lease, one result, all of stdout; progress reaches the status', async () => {
    const managerLog: LogRecord[] = [];
    const manager = await startManager(managerLog);
    const dataDir = fs.mkdtempSync(path.join(root, 'agent-'));
    const first = await startAgent(dataDir);
    const job = await submitJob(manager.queue, manager.paths, {
      commandFile: script(
        'long.sh',
        '#!/bin/bash\necho start\necho 0.25 > "$COPILOT_PROGRESS_FILE"\nsleep 8\necho end\necho "2+2" | bc\n',
      ),
    });
    jobIds.push(job.id);
    const running = await until('progress in the status', async () => {
      const status = await first.commands.getStatus();
      const mine = status.running.find((entry) => entry.jobId === job.id);
      return mine?.progress === 0.25 ? mine : undefined;
    });
    expect(running.etaMs).toBeGreaterThan(0);
    const jobs = await first.commands.getJobs();
    expect(jobs.running[0]).toMatchObject({ jobId: job.id, progress: 0.25 });

    await stopAgent(first);
    const left = await jobContainers([job.id]);
    expect(left.map((info) => info.State)).toEqual(['running']);

    const agentLog: LogRecord[] = [];
    await startAgent(dataDir, agentLog);
    const finished = await waitForJob(manager.queue, job.id, 60_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0, attempts: 1 });
    expect(leases(managerLog)).toEqual([job.id]);
    const stdout = path.join(manager.config.doneJobDir, job.id, 'stdout');
    expect(fs.readFileSync(stdout, 'utf8')).toBe('start\nend\n4\n');
    const adopted = agentLog.filter((r) => r.message.startsWith('adopting the job container'));
    expect(adopted.map((record) => record.fields?.jobId)).toEqual([job.id]);
    await until('the adopted container removed', async () =>
      (await jobContainers([job.id])).length === 0 ? true : undefined,
    );
  }, 120_000);

  it('starts a job whose container was lost again, from its checkpoint, with COPILOT_RESUMED=1', async () => {
    const managerLog: LogRecord[] = [];
    const manager = await startManager(managerLog);
    const dataDir = fs.mkdtempSync(path.join(root, 'agent-'));
    const first = await startAgent(dataDir);
    const job = await submitJob(manager.queue, manager.paths, {
      commandFile: script(
        'checkpointed.sh',
        [
          '#!/bin/bash',
          'step="$COPILOT_CHECKPOINT_DIR/step"',
          'if [ -f "$step" ]; then',
          '  echo "resumed=${COPILOT_RESUMED:-0} from step $(cat "$step")"',
          'else',
          '  echo "fresh resumed=${COPILOT_RESUMED:-0}"',
          '  echo 1 > "$step"',
          '  sleep 600',
          'fi',
          '',
        ].join('\n'),
      ),
    });
    jobIds.push(job.id);
    const checkpoint = path.join(dataDir, 'jobs', job.id, 'checkpoint', 'step');
    await until('the checkpoint', () =>
      Promise.resolve(fs.existsSync(checkpoint) ? true : undefined),
    );
    expect((await first.commands.getStatus()).running[0]?.progress).toBeNull();
    await stopAgent(first);
    // The host reboots: the container is gone, the data dir is not.
    for (const info of await jobContainers([job.id])) {
      await docker.getContainer(info.Id).remove({ force: true });
    }

    const agentLog: LogRecord[] = [];
    await startAgent(dataDir, agentLog);
    const finished = await waitForJob(manager.queue, job.id, 60_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0, attempts: 1 });
    expect(leases(managerLog)).toEqual([job.id]);
    const stdout = path.join(manager.config.doneJobDir, job.id, 'stdout');
    expect(fs.readFileSync(stdout, 'utf8')).toBe('resumed=1 from step 1\n');
    expect(agentLog.map((record) => record.message)).toContain(
      'the job container is gone; starting the job again from its checkpoint dir',
    );
  }, 120_000);
  it('keeps a frozen container frozen while the agent is down; the next start applies its policy', async () => {
    const managerLog: LogRecord[] = [];
    const manager = await startManager(managerLog);
    const dataDir = fs.mkdtempSync(path.join(root, 'agent-'));
    const first = await startAgent(dataDir);
    const job = await submitJob(manager.queue, manager.paths, {
      commandFile: script('frozen.sh', '#!/bin/bash\necho before\nsleep 3\necho after\n'),
    });
    jobIds.push(job.id);
    const state = async (): Promise<string | undefined> =>
      (await jobContainers([job.id]))[0]?.State;
    await until('the job running', async () => ((await state()) === 'running' ? true : undefined));
    await first.commands.pause();
    await until('the job frozen', async () => ((await state()) === 'paused' ? true : undefined));
    await stopAgent(first);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(await state()).toBe('paused');

    // A new agent on the same data dir whose settings let jobs run: it thaws the job.
    await startAgent(dataDir);
    const finished = await waitForJob(manager.queue, job.id, 60_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0, attempts: 1 });
    expect(leases(managerLog)).toEqual([job.id]);
    const stdout = path.join(manager.config.doneJobDir, job.id, 'stdout');
    expect(fs.readFileSync(stdout, 'utf8')).toBe('before\nafter\n');
  }, 120_000);
});
