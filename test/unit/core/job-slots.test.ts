import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobHistoryRecord } from '@copilot/contract/ui-contract';
import type { RunOutcome, RunSpec } from '@copilot/core/docker-runner';
import { DockerUnavailableError } from '@copilot/core/docker-socket';
import { JobHistory } from '@copilot/core/job-history';
import { JobSlots, type JobSlotsOptions } from '@copilot/core/job-slots';
import { JobStore, type JobInHand } from '@copilot/core/job-store';
import { containerLimits } from '@copilot/core/resource-policy';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { FakeRunner, JM_FULL, jobDescription, sharedLifecycleDeps } from './fakes';

/** A runner whose first `failures` runs fail as when the Docker daemon has gone away. */
class DockerGoneRunner extends FakeRunner {
  failures = 1;

  override run(
    spec: RunSpec,
    onStarted?: (containerId: string, startedAt: string) => void,
  ): Promise<RunOutcome> {
    if (this.failures > 0) {
      this.failures -= 1;
      this.specs.push(spec);
      this.calls.push(`run ${spec.jobId}`);
      return Promise.reject(
        new DockerUnavailableError('connect ECONNREFUSED /var/run/docker.sock'),
      );
    }
    return super.run(spec, onStarted);
  }
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'job-slots-'));
});
afterEach(() => {
  vi.useRealTimers();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  slots: JobSlots;
  runner: FakeRunner;
  store: JobStore;
  history: JobHistory;
  logs: LogRecord[];
  done: JobHistoryRecord[];
  freed: number;
  failures: number;
  state: { mayRun: boolean; dockerAvailable: boolean; stopped: boolean };
  /** Resolves with the next job that ends in the history. */
  nextDone: () => Promise<JobHistoryRecord>;
  /** Resolves when a slot is freed next. */
  nextFreed: () => Promise<void>;
}

function rig(runner: FakeRunner = new FakeRunner()): Rig {
  const logs: LogRecord[] = [];
  const logger = createLogger('agent', (record) => logs.push(record));
  const store = new JobStore(dir);
  const history = new JobHistory(dir);
  const limits = containerLimits(
    { cpuLimitPercent: 50, memoryLimitMb: 512, diskLimitMb: 100, jobSlots: 1 },
    2,
  );
  const doneWaiters: Array<(record: JobHistoryRecord) => void> = [];
  const freedWaiters: Array<() => void> = [];
  const result: Rig = {
    slots: undefined as unknown as JobSlots,
    runner,
    store,
    history,
    logs,
    done: [],
    freed: 0,
    failures: 0,
    state: { mayRun: true, dockerAvailable: true, stopped: false },
    nextDone: () => new Promise((resolve) => doneWaiters.push(resolve)),
    nextFreed: () => new Promise((resolve) => freedWaiters.push(resolve)),
  };
  const options: JobSlotsOptions = {
    lifecycle: sharedLifecycleDeps({
      runner,
      store,
      logger,
      limits: () => limits,
      mayRun: () => result.state.mayRun,
    }),
    runner,
    store,
    history,
    logger,
    wallClockLimitMs: 60_000,
    mayRun: () => result.state.mayRun,
    limits: () => limits,
    dockerAvailable: () => result.state.dockerAvailable,
    stopped: () => result.state.stopped,
    onLifecycleFailure: () => {
      result.failures += 1;
    },
    onChange: () => undefined,
    onFreed: () => {
      result.freed += 1;
      for (const resolve of freedWaiters.splice(0)) resolve();
    },
    onJobDone: (record) => {
      result.done.push(record);
      for (const resolve of doneWaiters.splice(0)) resolve(record);
    },
  };
  result.slots = new JobSlots(options);
  return result;
}

function inHand(overrides: Partial<JobInHand> = {}): JobInHand {
  return {
    job: jobDescription(),
    jmJobData: 'lease=1',
    manager: JM_FULL,
    phase: 'received',
    receivedAt: new Date().toISOString(),
    ...overrides,
  };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

describe('JobSlots', () => {
  it('runs a job to the history and onJobDone, then frees its slot', async () => {
    const r = rig();
    const done = r.nextDone();
    const freed = r.nextFreed();
    r.slots.start(inHand());
    expect(r.slots.size).toBe(1);
    expect(r.slots.holds('job-1')).toBe(true);
    const record = await done;
    expect(record).toMatchObject({ jobId: 'job-1', state: 'done', manager: JM_FULL });
    await freed;
    expect(r.slots.size).toBe(0);
    expect(r.slots.holds('job-1')).toBe(false);
    expect(r.freed).toBe(1);
    expect(r.history.list()).toEqual([record]);
    expect(r.store.exists('job-1')).toBe(false);
    expect(r.failures).toBe(0);
  });

  it('shows each job held with its phase', async () => {
    const r = rig();
    r.runner.hold = true;
    r.slots.start(inHand());
    expect(r.slots.running(Date.now())).toMatchObject([
      { jobId: 'job-1', manager: JM_FULL, command: 'calculator.sh', wallClockLimitMs: 60_000 },
    ]);
    await until(() => r.slots.running(Date.now())[0]?.phase === 'running');
    const done = r.nextDone();
    r.runner.release();
    await done;
  });

  it('freezes and thaws running jobs through the runner, once each', async () => {
    const r = rig();
    r.runner.hold = true;
    const done = r.nextDone();
    r.slots.start(inHand());
    await until(() => r.slots.running(Date.now())[0]?.phase === 'running');

    r.state.mayRun = false;
    r.slots.applyPolicy();
    r.slots.applyPolicy();
    expect(r.runner.calls.filter((call) => call === 'pause job-1')).toHaveLength(1);
    expect(r.slots.running(Date.now())[0]?.phase).toBe('paused');

    r.state.mayRun = true;
    r.slots.applyPolicy();
    r.slots.applyPolicy();
    expect(r.runner.calls.filter((call) => call === 'resume job-1')).toHaveLength(1);
    expect(r.slots.running(Date.now())[0]?.phase).toBe('running');
    expect(r.runner.calls.filter((call) => /^(pause|resume) /.test(call))).toEqual([
      'pause job-1',
      'resume job-1',
    ]);

    r.runner.release();
    await done;
  });

  it('starts a job frozen when the policy says no, and does not pause it again', async () => {
    const r = rig();
    r.runner.hold = true;
    r.state.mayRun = false;
    const done = r.nextDone();
    r.slots.start(inHand());
    // Not running yet: nothing to freeze.
    r.slots.applyPolicy();
    await until(() => r.runner.specs.length === 1);
    expect(r.runner.specs[0]?.startPaused).toBe(true);
    expect(r.slots.running(Date.now())[0]?.phase).toBe('paused');
    r.slots.applyPolicy();
    expect(r.runner.calls.filter((call) => call.startsWith('pause'))).toEqual([]);
    r.state.mayRun = true;
    r.slots.applyPolicy();
    expect(r.runner.calls.filter((call) => call.startsWith('resume'))).toEqual(['resume job-1']);
    r.runner.release();
    await done;
  });

  it('applies the container limits to every job held', async () => {
    const r = rig();
    r.runner.hold = true;
    const done = r.nextDone();
    r.slots.start(inHand());
    await until(() => r.runner.specs.length === 1);
    r.slots.applyLimits();
    expect(r.runner.calls).toContain('update job-1 1000000000');
    r.runner.release();
    await done;
  });

  it('retries a lifecycle that failed with Docker gone, 30 s later and once Docker is back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const runner = new DockerGoneRunner();
    const r = rig(runner);
    const freed = r.nextFreed();
    r.slots.start(inHand());
    await freed;
    expect(r.failures).toBe(1);
    expect(r.slots.size).toBe(0);
    expect(r.done).toEqual([]);
    expect(r.store.load('job-1', () => undefined)?.phase).toBe('running');
    expect(r.logs.map((record) => record.message)).toContain(
      'job lifecycle failed; it stays on disk and is retried',
    );

    // Docker still gone at 30 s: the retry waits another 30 s.
    r.state.dockerAvailable = false;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(runner.specs).toHaveLength(1);
    r.state.dockerAvailable = true;
    await vi.advanceTimersByTimeAsync(29_999);
    expect(runner.specs).toHaveLength(1);
    expect(r.slots.size).toBe(0);

    const done = r.nextDone();
    await vi.advanceTimersByTimeAsync(1);
    expect(r.slots.holds('job-1')).toBe(true);
    const record = await done;
    expect(record).toMatchObject({ jobId: 'job-1', state: 'done' });
    expect(runner.specs).toHaveLength(2);
    expect(r.store.exists('job-1')).toBe(false);
  });

  it('does not retry a failed lifecycle once the agent has stopped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const runner = new DockerGoneRunner();
    const r = rig(runner);
    const freed = r.nextFreed();
    r.slots.start(inHand());
    await freed;
    r.state.stopped = true;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(runner.specs).toHaveLength(1);
    expect(r.slots.size).toBe(0);
    expect(r.store.exists('job-1')).toBe(true);
  });

  it('close() stops the lifecycles, leaves their containers running and their jobs on disk', async () => {
    const r = rig();
    r.runner.hold = true;
    const freed = r.nextFreed();
    r.slots.start(inHand());
    await until(() => r.runner.specs.length === 1);
    await r.slots.close();
    expect(r.runner.calls).not.toContain('killAll');
    expect(r.runner.containers.has('job-1')).toBe(true);
    await freed;
    await r.slots.settled();
    expect(r.slots.size).toBe(0);
    expect(r.done).toEqual([]);
    expect(r.history.list()).toEqual([]);
    expect(r.failures).toBe(0);
    expect(r.store.exists('job-1')).toBe(true);
    expect(r.logs.map((record) => record.message)).toContain('job left for the next start');
  });

  it('resumes jobs left on disk, skipping one it already holds', async () => {
    const r = rig();
    r.runner.hold = true;
    r.slots.start(inHand());
    await until(() => r.runner.specs.length === 1);
    const second = inHand({ job: jobDescription({ id: 'job-2' }) });
    r.slots.resume([inHand(), second]);
    expect(r.slots.size).toBe(2);
    await until(() => r.runner.specs.length === 2);
    expect(r.runner.specs.map((spec) => spec.jobId)).toEqual(['job-1', 'job-2']);
    const both = new Promise<void>((resolve) => {
      const check = (): void => {
        if (r.done.length === 2) resolve();
        else void r.nextDone().then(check);
      };
      check();
    });
    r.runner.release();
    await both;
    expect(
      r.history
        .list()
        .map((record) => record.jobId)
        .sort(),
    ).toEqual(['job-1', 'job-2']);
  });
});
