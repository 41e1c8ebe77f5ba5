/**
 * "When to compute" rules and per-job control on a real running job (issue #16): a synthetic
 * CPU temperature above the limit lowers the container's NanoCpus step by step and a cool one
 * restores it; a synthetic battery pauses the container (State.Paused) and mains power thaws
 * it; each time getStatus names the rule. Then the volunteer suspends and resumes the job, and
 * aborts it: the manager hears a failed jobDone and the job is in the agent's history as aborted.
 * Other programs' CPU load, the computing hours and "only when idle" pause and lift it the same way.
 * Real Prosody, the real manager and the real agent with Docker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '@copilot/contract/ui-contract';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { createAgent, type Agent } from '@copilot/core/agent';
import { JOB_LABEL } from '@copilot/core/docker-runner';
import type { SensorSource } from '@copilot/core/host-sensors';
import { silentLogger } from '@copilot/base/logger';
import { ensureDocker, startTestXmppServer, type XmppServer } from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const PASSWORD = 'volunteer-pw';

let prosody: XmppServer;
let docker: Docker;
let root: string;
let manager: RunningJobManager | undefined;
let agent: Agent | undefined;

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      { username: 'agent1', password: PASSWORD },
    ],
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'compute-rules-'));
});

afterAll(async () => {
  await agent?.stop();
  await manager?.stop();
  await prosody?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** What the synthetic sensors say; the test changes it. */
const machine = { temperatureC: 60, onBattery: false, cpuLoadPercent: 0 };
const sensors: SensorSource = {
  battery: () =>
    Promise.resolve({ hasBattery: true, acConnected: !machine.onBattery, percent: 90 }),
  cpuTemperature: () => Promise.resolve({ main: machine.temperatureC }),
  currentLoad: () => Promise.resolve({ currentLoad: machine.cpuLoadPercent }),
};

async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The rule pauses the running job's container and says so; `lift` lets it run again. */
async function expectPausedThenLifted(
  jobId: string,
  why: string,
  lift: () => unknown,
): Promise<void> {
  const status = (): Promise<AgentStatus> => (agent as Agent).commands.getStatus();
  const says = (s: AgentStatus): boolean =>
    why === 'waiting-for-idle'
      ? s.activity === 'waiting-for-idle'
      : s.activity === 'paused-by-rule' && s.rule?.rule === why;
  await waitFor(
    () => container(jobId),
    (info) => info.State.Paused,
    `paused by ${why}`,
  );
  await waitFor(status, says, `the status to say ${why}`);
  await lift();
  await waitFor(
    () => container(jobId),
    (info) => !info.State.Paused,
    `running after ${why}`,
  );
  await waitFor(status, (s) => s.activity === 'running', 'running again');
}

async function container(jobId: string): Promise<Docker.ContainerInspectInfo> {
  const [info] = await docker.listContainers({
    all: true,
    filters: { label: [`${JOB_LABEL}=${jobId}`] },
  });
  if (!info) throw new Error(`no container for job ${jobId}`);
  return docker.getContainer(info.Id).inspect();
}

describe('rules and per-job control on a running job', () => {
  it('throttles, pauses and lifts by rule; suspends, resumes and aborts by hand', async () => {
    const config = loadJobManagerConfig([], localManagerValues(prosody, path.join(root, 'jm')));
    manager = await startJobManager(config, { logger: silentLogger });
    agent = createAgent({
      settings: localAgentSettings(prosody, 'agent1', PASSWORD, {
        cpuLimitPercent: 100,
        thermalLimitC: 80,
        runOnBattery: false,
      }),
      dataDir: fs.mkdtempSync(path.join(root, 'agent-')),
      docker,
      sensors,
      sensorIntervalMs: 100,
      readIdle: false,
      replyTimeoutMs: 3000,
      fetchBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
      retryBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
      session: { ackTimeoutMs: 1000 },
    });
    await agent.start();
    const commandFile = path.join(root, 'forever.sh');
    fs.writeFileSync(commandFile, '#!/bin/bash\nsleep 600\n', { mode: 0o755 });
    const job = await submitJob(manager.queue, manager.paths, { commandFile });
    const status = (): Promise<AgentStatus> => (agent as Agent).commands.getStatus();
    await waitFor(status, (s) => s.running[0]?.phase === 'running', 'the job to run');
    const full = (await container(job.id)).HostConfig.NanoCpus ?? 0;
    expect(full).toBeGreaterThan(0);

    // Hot: the quota goes down step by step, the job keeps running.
    machine.temperatureC = 95;
    const hot = await waitFor(
      () => container(job.id),
      (info) => (info.HostConfig.NanoCpus ?? 0) <= Math.floor(full * 0.8),
      'a lower CPU quota',
    );
    expect(hot.State.Paused).toBe(false);
    const slowed = await status();
    expect(slowed.rule).toMatchObject({ rule: 'thermal' });
    expect(slowed.statusLine).toMatch(/slowed: CPU at 95 °C/);
    // Cool: back to the full share.
    machine.temperatureC = 60;
    await waitFor(
      () => container(job.id),
      (info) => info.HostConfig.NanoCpus === full,
      'the full CPU quota',
    );
    await waitFor(status, (s) => !s.rule, 'no rule in the status');

    // On battery: paused, with the reason; on mains: running again.
    machine.onBattery = true;
    await waitFor(
      () => container(job.id),
      (info) => info.State.Paused,
      'a paused container',
    );
    const onBattery = await status();
    expect(onBattery).toMatchObject({
      activity: 'paused-by-rule',
      statusLine: 'Paused: on battery',
      rule: { rule: 'on-battery', reason: 'on battery' },
    });
    machine.onBattery = false;
    await waitFor(
      () => container(job.id),
      (info) => !info.State.Paused,
      'a running container',
    );
    await waitFor(status, (s) => s.activity === 'running', 'running again');

    // Other programs busy: paused with the reason; quiet again: running.
    await agent.commands.setSettings({ busyCpuPercent: 50 });
    machine.cpuLoadPercent = 100;
    await expectPausedThenLifted(job.id, 'computer-busy', () => {
      machine.cpuLoadPercent = 0;
    });

    // Outside the computing hours (a one-minute window twelve hours from now), then always.
    const later = new Date(Date.now() + 12 * 3600 * 1000);
    const at = (date: Date): string =>
      `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
    const window = `daily ${at(later)}-${at(new Date(later.getTime() + 60_000))}`;
    expect((await agent.commands.setSettings({ computeSchedule: window })).ok).toBe(true);
    await expectPausedThenLifted(job.id, 'outside-schedule', async () => {
      await (agent as Agent).commands.setSettings({ computeSchedule: '' });
    });

    // Only when idle: the volunteer at the keyboard pauses the job; away again, it runs.
    await agent.commands.setSettings({ runOnlyWhenIdle: true, idleMinutes: 1 });
    agent.reportIdleSeconds(0);
    await expectPausedThenLifted(job.id, 'waiting-for-idle', () => {
      (agent as Agent).reportIdleSeconds(120);
    });

    // By hand: suspend, resume, abort.
    await agent.commands.suspendJob(job.id);
    await waitFor(
      () => container(job.id),
      (info) => info.State.Paused,
      'a suspended container',
    );
    expect((await status()).suspendedJobs).toEqual([job.id]);
    await agent.commands.resumeJob(job.id);
    await waitFor(
      () => container(job.id),
      (info) => !info.State.Paused,
      'a resumed container',
    );
    await agent.commands.abortJob(job.id);
    const jobs = await waitFor(
      () => (agent as Agent).commands.getJobs(),
      (view) => view.history.length === 1 && view.running.length === 0,
      'the aborted job in the history',
    );
    expect(jobs.history[0]).toMatchObject({ jobId: job.id, state: 'aborted', exitCode: -1 });
    const record = await waitFor(
      () => (manager as RunningJobManager).queue.get(job.id),
      (value) => value?.state !== 'running',
      "the manager's record to end",
    );
    expect(record).toMatchObject({ state: 'failed' });
  }, 120_000);
});
