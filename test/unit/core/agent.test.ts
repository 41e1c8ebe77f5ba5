import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent, type AgentOptions } from '@copilot/core/agent';
import type { SystemInfoSource } from '@copilot/core/host-jdl';
import { DockerUnavailableError } from '@copilot/core/docker-socket';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentSettings, AgentStatus, DockerState } from '@copilot/contract/ui-contract';
import { FakeChannel, FakeRunner, FakeStorage, JM, jobDescription, scriptedManager } from './fakes';

const MB = 1024 * 1024;
const si: SystemInfoSource = {
  osInfo: () => Promise.resolve({ platform: 'linux', arch: 'x64', hostname: 'h', kernel: '6.1' }),
  mem: () => Promise.resolve({ total: 4096 * MB, available: 2048 * MB, swaptotal: 0, swapfree: 0 }),
  fsSize: () => Promise.resolve([{ mount: '/', available: 1024 * MB }]),
  cpu: () => Promise.resolve({ cores: 4 }),
};

let dir: string;
let agent: Agent | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-unit-'));
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  agent: Agent;
  channel: FakeChannel;
  runner: FakeRunner;
  persisted: AgentSettings[];
  docker: { state: DockerState };
}

function rig(
  jobs = [jobDescription()],
  settings: Partial<AgentSettings> = {},
  extra: Partial<AgentOptions> = {},
): Rig {
  const channel = new FakeChannel(scriptedManager(jobs));
  const runner = new FakeRunner();
  const persisted: AgentSettings[] = [];
  const docker = { state: { available: true, message: 'Docker 20.10' } as DockerState };
  agent = createAgent({
    settings: { ...DEFAULT_SETTINGS, jobManagerAddress: JM, runOnlyWhenIdle: false, ...settings },
    dataDir: dir,
    persistSettings: (next) => {
      persisted.push(next);
    },
    channel,
    runner,
    storage: new FakeStorage(),
    systemInfo: si,
    probeDocker: () => Promise.resolve(docker.state),
    replyTimeoutMs: 100,
    fetchBackoff: { initialMs: 50, maxMs: 100, jitter: 0 },
    retryBackoff: { initialMs: 10, maxMs: 20, jitter: 0 },
    resource: 'agent-test',
    ...extra,
  });
  return { agent, channel, runner, persisted, docker };
}

async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 3000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

describe('createAgent', () => {
  it('asks for work with the host JDL, runs the job, records it and emits job and status events', async () => {
    const { agent, channel } = rig();
    const statuses: AgentStatus[] = [];
    agent.events.on('status', (status) => statuses.push(status));
    const record = new Promise((resolve) => agent.events.once('job', resolve));
    await agent.start();
    await expect(record).resolves.toMatchObject({ jobId: 'job-1', state: 'done' });
    const want = channel.commands('want_getJob')[0];
    expect(want?.to).toBe(JM);
    expect(want?.command.command === 'want_getJob' && want.command.jdl).toContain(
      `CpuCores = ${Math.max(1, Math.floor(os.cpus().length / 2))};`,
    );
    const jobs = await agent.commands.getJobs();
    expect(jobs.totals.jobs).toBe(1);
    expect(statuses.some((status) => status.activity === 'running')).toBe(true);
    const log = await agent.commands.getLog();
    expect(log.some((entry) => entry.message === 'job complete')).toBe(true);
  });

  it('validates settings, persists them and applies limits to the running job live', async () => {
    const { agent, runner, persisted } = rig();
    runner.hold = true;
    await agent.start();
    await until(() => runner.specs.length > 0);
    const bad = await agent.commands.setSettings({ cpuLimitPercent: 150 });
    expect(bad).toEqual({
      ok: false,
      errors: [{ field: 'cpuLimitPercent', message: 'CPU limit must be between 1 and 100' }],
    });
    expect(persisted).toEqual([]);
    const good = await agent.commands.setSettings({ cpuLimitPercent: 25 });
    expect(good.ok).toBe(true);
    expect(persisted.at(-1)?.cpuLimitPercent).toBe(25);
    expect((await agent.commands.getSettings()).cpuLimitPercent).toBe(25);
    const cores = os.cpus().length;
    await until(() =>
      runner.calls.includes(
        `update job-1 ${Math.max(10_000_000, Math.floor(cores * 0.25 * 1000) * 1_000_000)}`,
      ),
    );
    expect((await agent.commands.getStatus()).cpuShare).toBe(0.25);
    // A change that leaves the container limits as they are does not touch the container.
    const updates = runner.calls.filter((call) => call.startsWith('update')).length;
    expect((await agent.commands.setSettings({ idleMinutes: 7 })).ok).toBe(true);
    expect(runner.calls.filter((call) => call.startsWith('update'))).toHaveLength(updates);
    runner.release();
  });

  it('pause freezes the running job and resume thaws it; a timed pause shows its end', async () => {
    const { agent, runner, persisted } = rig();
    runner.hold = true;
    await agent.start();
    await until(() => runner.specs.length > 0);
    const paused = await agent.commands.pause();
    expect(paused).toMatchObject({ activity: 'paused', paused: true, statusLine: 'Paused' });
    expect(paused.running[0]?.phase).toBe('paused');
    expect(runner.calls).toContain('pause job-1');
    expect(persisted.at(-1)?.paused).toBe(true);
    const resumed = await agent.commands.resume();
    expect(resumed.activity).toBe('running');
    expect(resumed.statusLine).toMatch(/^Running job job-1 for /);
    expect(runner.calls).toContain('resume job-1');
    const timed = await agent.commands.pause(5);
    expect(timed.pausedUntil).not.toBeNull();
    expect(timed.statusLine).toMatch(/^Paused until \d\d:\d\d$/);
    expect(persisted.at(-1)?.paused).toBe(false);
    await agent.commands.resume();
    await expect(agent.commands.pause(-1)).rejects.toThrow(/pause minutes/);
    runner.release();
  });

  it('the machine ceasing to be idle pauses the running job; idle again resumes it', async () => {
    const { agent, runner } = rig([jobDescription()], { runOnlyWhenIdle: true, idleMinutes: 1 });
    runner.hold = true;
    await agent.start();
    await until(() => runner.specs.length > 0);
    agent.reportIdleSeconds(3);
    let status = await agent.commands.getStatus();
    expect(status).toMatchObject({
      activity: 'waiting-for-idle',
      statusLine: 'Waiting for the computer to be idle',
    });
    expect(status.idle).toMatchObject({
      required: true,
      idleSeconds: 3,
      thresholdSeconds: 60,
      isIdle: false,
    });
    expect(runner.calls).toContain('pause job-1');
    agent.reportIdleSeconds(61);
    status = await agent.commands.getStatus();
    expect(status.activity).toBe('running');
    expect(runner.calls).toContain('resume job-1');
    runner.release();
  });

  it('a pause that comes while the container is being made reaches the runner as it starts', async () => {
    const { agent, runner } = rig();
    runner.hold = true;
    const run = runner.run.bind(runner);
    let pausing: Promise<unknown> | undefined;
    runner.run = (spec, onStarted) => {
      // The container was asked for unfrozen; the volunteer pauses before it starts.
      expect(spec.startPaused).toBe(false);
      pausing = agent.commands.pause();
      return pausing.then(() => run(spec, onStarted));
    };
    await agent.start();
    await until(() => runner.specs.length > 0);
    await pausing;
    expect(runner.calls).toEqual(['run job-1', 'pause job-1']);
    const status = await agent.commands.getStatus();
    expect(status.running[0]?.phase).toBe('paused');
    await agent.commands.resume();
    expect(runner.calls).toContain('resume job-1');
    runner.release();
  });

  it('a resume that comes while a frozen container is being made thaws it as it starts', async () => {
    const storage = new FakeStorage();
    const { agent, runner } = rig([jobDescription()], {}, { storage });
    const download = storage.download.bind(storage);
    storage.download = (...args) =>
      // The volunteer pauses while the inputs come in: the container is asked for frozen.
      agent.commands.pause().then(() => download(...args));
    runner.hold = true;
    const run = runner.run.bind(runner);
    runner.run = (spec, onStarted) => {
      expect(spec.startPaused).toBe(true);
      return agent.commands.resume().then(() => run(spec, onStarted));
    };
    await agent.start();
    await until(() => runner.specs.length > 0);
    expect(runner.calls).toEqual(['run job-1', 'resume job-1']);
    expect((await agent.commands.getStatus()).running[0]?.phase).toBe('running');
    runner.release();
  });

  it('an idle reading is news only when the idle display or decision changes', async () => {
    const { agent } = rig([], { runOnlyWhenIdle: false });
    await agent.start();
    const statuses: AgentStatus[] = [];
    agent.events.on('status', (status) => statuses.push(status));
    agent.reportIdleSeconds(3);
    agent.reportIdleSeconds(8);
    agent.reportIdleSeconds(125);
    expect(statuses).toEqual([]);
    await agent.commands.setSettings({ runOnlyWhenIdle: true, idleMinutes: 1 });
    statuses.length = 0;
    agent.reportIdleSeconds(130);
    expect(statuses).toEqual([]);
    agent.reportIdleSeconds(185);
    expect(statuses.map((status) => status.idle.idleSeconds)).toEqual([185]);
    agent.reportIdleSeconds(5);
    expect(statuses.map((status) => status.activity)).toEqual([
      'waiting-for-work',
      'waiting-for-idle',
    ]);
  });

  it('does not ask for work while Docker is down, and says so', async () => {
    const { agent, channel, docker } = rig(
      [jobDescription()],
      {},
      { dockerBackoff: { initialMs: 50, maxMs: 50, jitter: 0 } },
    );
    docker.state = { available: false, message: 'connect ENOENT /var/run/docker.sock' };
    await agent.start();
    await sleep(300);
    const status = await agent.commands.getStatus();
    expect(status).toMatchObject({
      activity: 'docker-unavailable',
      statusLine: 'No container engine is running',
    });
    expect(status.docker).toMatchObject({ available: false, message: 'Docker is not running' });
    expect(channel.commands('want_getJob')).toEqual([]);
    docker.state = { available: true, message: 'Docker 20.10' };
    await until(() => channel.commands('want_getJob').length > 0, 5000);
  });

  it('a job that fails because Docker went away is kept, and no other job is taken meanwhile', async () => {
    const { agent, channel, runner, docker } = rig([
      jobDescription(),
      jobDescription({ id: 'job-2' }),
    ]);
    runner.run = () => {
      docker.state = { available: false, message: 'connect ENOENT /var/run/docker.sock' };
      return Promise.reject(
        new DockerUnavailableError('connect ECONNREFUSED /var/run/docker.sock'),
      );
    };
    await agent.start();
    await until(() => channel.commands('want_getJob').length === 1);
    await until(async () => (await agent.commands.getStatus()).activity === 'docker-unavailable');
    await sleep(300);
    expect(channel.commands('want_getJob')).toHaveLength(1);
    expect(fs.existsSync(path.join(dir, 'jobs', 'job-1', 'job.json'))).toBe(true);
  });

  it('retries want_getJob with back-off when nobody answers, and waits while paused', async () => {
    const { agent, channel } = rig([]);
    await agent.start();
    await until(() => channel.commands('want_getJob').length >= 2, 5000);
    await agent.commands.pause();
    await sleep(400);
    const count = channel.commands('want_getJob').length;
    await sleep(400);
    expect(channel.commands('want_getJob').length).toBe(count);
    expect((await agent.commands.getStatus()).activity).toBe('paused');
  });

  it('reports job events and system load to the monitor when configured', async () => {
    const { agent, channel } = rig(
      [jobDescription()],
      {},
      { monitorAddress: 'mon@localhost', loadReportIntervalMs: 50 },
    );
    const record = new Promise((resolve) => agent.events.once('job', resolve));
    await agent.start();
    await record;
    await until(() => channel.sent.some((entry) => entry.command.command === 'reportEventValue'));
    const toMonitor = channel.sent.filter((entry) => entry.to === 'mon@localhost');
    expect(toMonitor.every((entry) => entry.noack)).toBe(true);
    const events = toMonitor.map((entry) =>
      'event' in entry.command ? `${entry.command.command}:${entry.command.event}` : '',
    );
    expect(events).toEqual(
      expect.arrayContaining([
        'reportEvent:job.started',
        'reportEvent:job.succeeded',
        'reportEventDuration:job.duration',
        'reportEventDuration:job.download',
        'reportEventDuration:job.upload',
        'reportEventValue:system.load.1min',
      ]),
    );
    expect(toMonitor[0]?.command).toMatchObject({ component: 'agent.agent-test' });
  });

  it('resumes a job left on disk by an earlier run', async () => {
    const first = rig();
    first.runner.hold = true;
    await first.agent.start();
    await until(() => first.runner.specs.length > 0);
    await first.agent.stop();
    agent = undefined;
    expect(fs.existsSync(path.join(dir, 'jobs', 'job-1', 'job.json'))).toBe(true);
    const second = rig([]);
    const record = new Promise((resolve) => second.agent.events.once('job', resolve));
    await second.agent.start();
    await expect(record).resolves.toMatchObject({ jobId: 'job-1', state: 'done' });
    expect(second.runner.specs).toHaveLength(1);
  });
});

describe('createAgent: finish then pause, rules from the sensors, notifications', () => {
  it('finish then pause takes no new work, lets the running job end, then pauses', async () => {
    const { agent, runner, channel, persisted } = rig([
      jobDescription(),
      jobDescription({ id: 'job-2' }),
    ]);
    runner.hold = true;
    await agent.start();
    await until(() => runner.specs.length > 0);
    const finishing = await agent.commands.finishThenPause();
    expect(finishing).toMatchObject({ finishing: true, paused: false });
    expect(finishing.statusLine).toMatch(/, then pausing$/);
    const asked = channel.commands('want_getJob').length;
    runner.release();
    const paused = await until(async () => {
      const status = await agent.commands.getStatus();
      return status.paused ? status : undefined;
    });
    expect(paused).toMatchObject({ activity: 'paused', finishing: false, running: [] });
    expect(persisted.at(-1)?.paused).toBe(true);
    await sleep(200);
    expect(channel.commands('want_getJob')).toHaveLength(asked);
    expect(runner.specs.map((spec) => spec.jobId)).toEqual(['job-1']);
  });

  it('a sensor rule pauses the running job with its reason and lifts it again', async () => {
    const machine = { onBattery: true };
    const { agent, runner } = rig(
      [jobDescription()],
      { runOnBattery: false },
      {
        sensors: {
          battery: () =>
            Promise.resolve({ hasBattery: true, acConnected: !machine.onBattery, percent: 50 }),
          cpuTemperature: () => Promise.resolve({ main: -1 }),
          currentLoad: () => Promise.resolve({ currentLoad: 0 }),
        },
        sensorIntervalMs: 20,
        readIdle: false,
      },
    );
    await agent.start();
    const blocked = await until(async () => {
      const status = await agent.commands.getStatus();
      return status.activity === 'paused-by-rule' ? status : undefined;
    });
    expect(blocked).toMatchObject({
      statusLine: 'Paused: on battery',
      rule: { rule: 'on-battery' },
    });
    // No work is asked for while a rule pauses.
    expect(runner.specs).toEqual([]);
    machine.onBattery = false;
    await until(() => runner.specs.length > 0);
    expect((await agent.commands.getStatus()).rule ?? null).toBeNull();
  });

  it('a failed job is a notification event', async () => {
    const { agent, runner } = rig();
    runner.outcome = { exitCode: 3, state: 'failed' };
    const notified = new Promise((resolve) => agent.events.once('notification', resolve));
    await agent.start();
    await expect(notified).resolves.toMatchObject({
      kind: 'job-failed',
      title: 'Job job-1 failed',
      jobId: 'job-1',
    });
  });
});
