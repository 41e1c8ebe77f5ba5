// Several managers sharing one queue (Redis, issue #14): when the job's manager does not answer
// want_getJobOutputDir, the next round asks every configured manager, and the result and jobDone
// go to the one that offers; a refusal from another manager does not drop the job.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobLifecycle, type LifecycleDeps } from '@copilot/core/job-lifecycle';
import { JobStore } from '@copilot/core/job-store';
import { containerLimits } from '@copilot/core/resource-policy';
import { SerialLock } from '@copilot/base/serial-lock';
import { silentLogger } from '@copilot/base/logger';
import type { Command } from '@copilot/protocol/commands';
import {
  FakeChannel,
  FakeRunner,
  FakeStorage,
  JM,
  JM_FULL,
  jobDescription,
  managerExchange,
} from './fakes';

const JM2 = 'jm2@localhost';
const JM2_FULL = 'jm2@localhost/generic';
const OTHER = 'other@localhost';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-failover-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function deps(channel: FakeChannel, storage: FakeStorage, managers: string[]): LifecycleDeps {
  return {
    exchange: managerExchange(channel, managers),
    runner: new FakeRunner(),
    storage,
    store: new JobStore(dir),
    logger: silentLogger,
    handshakeLock: new SerialLock(),
    agentHost: 'volunteer.example.org',
    limits: () =>
      containerLimits(
        { cpuLimitPercent: 50, memoryLimitMb: 512, diskLimitMb: 100, jobSlots: 1 },
        2,
      ),
    mayRun: () => true,
    image: 'copilot-job:latest',
    wallClockLimitMs: 60_000,
    allowJobNetwork: () => false,
    replyTimeoutMs: 100,
    leaseRenewalMs: 60_000,
    retry: { initialMs: 5, maxMs: 20, jitter: 0 },
    maxUploadAttempts: 3,
    resultRetentionMs: 60_000,
    onPhase: () => undefined,
    onStarted: () => undefined,
    signal: new AbortController().signal,
  };
}

/** jm2 shares the queue and answers for the job; jm (the job's manager) is gone. */
function survivingManager(to: string, command: Command): Array<[string, Command]> {
  if (!to.startsWith('jm2@')) return [];
  if (command.command === 'want_getJobOutputDir')
    return [[JM2_FULL, { command: 'have_getJobOutputDir' }]];
  if (command.command === 'getJobOutputDir') {
    return [
      [
        JM2_FULL,
        {
          command: 'storeJobOutputDir',
          outputChirpUrl: 'http://jm2',
          outputDir: '/out-jm2',
          jobID: command.jobID,
          jmJobData: 'lease=1',
        },
      ],
    ];
  }
  return [];
}

function job(): ConstructorParameters<typeof JobLifecycle>[1] {
  return {
    job: jobDescription(),
    jmJobData: 'lease=1',
    manager: JM_FULL,
    phase: 'received',
    receivedAt: new Date().toISOString(),
  };
}

describe('output delivery when the job manager is gone', () => {
  it('asks its manager first, then every configured manager; the one that offers gets the output and jobDone', async () => {
    const channel = new FakeChannel(survivingManager);
    const storage = new FakeStorage();
    const record = await new JobLifecycle(deps(channel, storage, [JM, JM2]), job()).run();
    expect(record.state).not.toBe('aborted');
    const asked = channel.commands('want_getJobOutputDir').map((entry) => entry.to);
    expect(asked[0]).toBe(JM);
    expect(asked.slice(1, 3)).toEqual([JM, JM2]);
    expect(channel.commands('getJobOutputDir').map((entry) => entry.to)).toEqual([JM2_FULL]);
    expect(channel.commands('jobDone').map((entry) => entry.to)).toEqual([JM2_FULL]);
    expect([...storage.uploads.keys()]).toContain('/out-jm2/stdout');
  });

  it('with one manager configured, only that manager is ever asked', async () => {
    let rounds = 0;
    const channel = new FakeChannel((to, command) => {
      if (command.command !== 'want_getJobOutputDir') return survivingManager(to, command);
      rounds += 1;
      // The job's manager comes back on the third round.
      if (rounds < 3) return [];
      return [[JM_FULL, { command: 'have_getJobOutputDir' }]];
    });
    const lifecycle = new JobLifecycle(deps(channel, new FakeStorage(), [JM]), job());
    const run = lifecycle.run();
    await expect(
      Promise.race([run, new Promise((resolve) => setTimeout(resolve, 1_000, 'waiting'))]),
    ).resolves.toBe('waiting');
    expect(new Set(channel.commands('want_getJobOutputDir').map((entry) => entry.to))).toEqual(
      new Set([JM]),
    );
  });

  it("another manager's refusal (a queue of its own) does not drop the job", async () => {
    const channel = new FakeChannel((to, command) => {
      if (to.startsWith('other@') && 'jobID' in command) {
        return [
          [
            `${OTHER}/generic`,
            { command: 'jobRefused', jobID: command.jobID, code: 'unknown-job', reason: 'no' },
          ],
        ];
      }
      return survivingManager(to, command);
    });
    const record = await new JobLifecycle(
      deps(channel, new FakeStorage(), [JM, OTHER, JM2]),
      job(),
    ).run();
    expect(record.state).not.toBe('aborted');
    expect(channel.commands('jobDone').map((entry) => entry.to)).toEqual([JM2_FULL]);
  });
});
