import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobHistoryRecord } from '@copilot/contract/ui-contract';
import { JobHistory } from '@copilot/core/job-history';
import { JobSlots } from '@copilot/core/job-slots';
import { JobStore } from '@copilot/core/job-store';
import { containerLimits } from '@copilot/core/resource-policy';
import { silentLogger } from '@copilot/base/logger';
import {
  FakeChannel,
  FakeRunner,
  FakeStorage,
  JM_FULL,
  jobDescription,
  managerExchange,
  scriptedManager,
  sharedLifecycleDeps,
} from './fakes';

/** A runner whose cleanup (what an abort does) kills the held container: exit 137. */
class KillableRunner extends FakeRunner {
  override cleanup(jobId?: string): Promise<void> {
    this.calls.push(`cleanup ${jobId ?? ''}`);
    // The lifecycle also cleans up before a fresh start; only a started container is killed.
    if (this.specs.some((spec) => spec.jobId === jobId)) {
      this.outcome = { exitCode: 137, state: 'failed' };
      this.release();
    }
    return Promise.resolve();
  }
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'job-control-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

function rig() {
  const runner = new KillableRunner();
  runner.hold = true;
  const channel = new FakeChannel(scriptedManager([]));
  const store = new JobStore(dir);
  const history = new JobHistory(dir);
  const storage = new FakeStorage();
  const limits = containerLimits(
    { cpuLimitPercent: 50, memoryLimitMb: 512, diskLimitMb: 100, jobSlots: 1 },
    2,
  );
  const state = { mayRun: true };
  const done: JobHistoryRecord[] = [];
  const slots = new JobSlots({
    lifecycle: sharedLifecycleDeps({
      exchange: managerExchange(channel),
      runner,
      storage,
      store,
      limits: () => limits,
      mayRun: () => state.mayRun,
    }),
    runner,
    store,
    history,
    logger: silentLogger,
    wallClockLimitMs: 60_000,
    mayRun: () => state.mayRun,
    limits: () => limits,
    dockerAvailable: () => true,
    stopped: () => false,
    onLifecycleFailure: () => undefined,
    onChange: () => undefined,
    onFreed: () => undefined,
    onJobDone: (record) => done.push(record),
  });
  slots.start({
    job: jobDescription(),
    jmJobData: 'lease=1',
    manager: JM_FULL,
    phase: 'received',
    receivedAt: new Date().toISOString(),
  });
  return { runner, channel, slots, history, state, done, storage };
}

const phase = (slots: JobSlots): string | undefined => slots.running(Date.now())[0]?.phase;

describe('per-job control', () => {
  it('a suspended job stays frozen whatever the policy says until it is resumed', async () => {
    const r = rig();
    await until(() => phase(r.slots) === 'running');
    expect(r.slots.suspend('job-1')).toBe(true);
    expect(r.slots.suspended()).toEqual(['job-1']);
    expect(phase(r.slots)).toBe('paused');
    r.slots.applyPolicy(); // the policy says run: still frozen
    expect(r.runner.calls.filter((call) => /^(pause|resume) /.test(call))).toEqual(['pause job-1']);
    // The policy pauses too, and lifts: the volunteer's hold stays.
    r.state.mayRun = false;
    r.slots.applyPolicy();
    r.state.mayRun = true;
    r.slots.applyPolicy();
    expect(phase(r.slots)).toBe('paused');
    expect(r.slots.resumeJob('job-1')).toBe(true);
    expect(r.slots.suspended()).toEqual([]);
    expect(phase(r.slots)).toBe('running');
    expect(r.runner.calls.filter((call) => /^(pause|resume) /.test(call))).toEqual([
      'pause job-1',
      'resume job-1',
    ]);
    expect(r.slots.suspend('no-such-job')).toBe(false);
    r.runner.release();
    await until(() => r.done.length === 1);
    expect(r.done[0]?.state).toBe('done');
  });

  it('an aborted job is killed, reported to its manager as a failed jobDone (aborted) and kept in history', async () => {
    const r = rig();
    await until(() => phase(r.slots) === 'running');
    expect(r.slots.abortJob('job-1')).toBe(true);
    expect(r.slots.abortJob('job-1')).toBe(false);
    await until(() => r.done.length === 1);
    expect(r.runner.calls).toContain('cleanup job-1');
    expect(r.done[0]).toMatchObject({
      jobId: 'job-1',
      state: 'aborted',
      exitCode: -1,
      error: 'aborted by the volunteer',
    });
    const [jobDone] = r.channel.commands('jobDone');
    expect(jobDone?.command).toMatchObject({
      command: 'jobDone',
      jobID: 'job-1',
      state: 'aborted',
      exitCode: -1,
    });
    // No output goes to the manager.
    expect(r.channel.commands('want_getJobOutputDir')).toEqual([]);
    await until(() => r.slots.size === 0);
    expect(r.history.list()).toMatchObject([{ jobId: 'job-1', state: 'aborted' }]);
  });
});
