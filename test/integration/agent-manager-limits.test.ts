// Issue #17 with the real agent (createAgent, jobs in Docker) and the real manager over a real
// Prosody: JM_REQUEST_COOLDOWN's `sleep` makes the agent stop asking that manager for the
// seconds it names, and an --array batch gives each job its COPILOT_TASK_INDEX.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { ensureDocker, startTestXmppServer, type XmppServer } from '@test/harness';
import { createAgent, type Agent } from '@copilot/core/agent';
import { accountOf } from '@copilot/protocol';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { submitBatch, waitForJob } from '@manager/job-manager/job-submission';
import { managerConfig, PASSWORD, tempDir } from '@manager/test/integration/manager-fixture';
import { localAgentSettings } from './local-settings';

const COOLDOWN_SECONDS = 8;

let prosody: XmppServer;
let docker: Docker;
let root: string;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['jm', 'agent1'].map((username) => ({ username, password: PASSWORD })),
  });
  root = tempDir('agent-limits-');
});

afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await prosody?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the real agent and the manager limits (issue #17)', () => {
  it('backs off for the seconds of sleep, and runs an --array with COPILOT_TASK_INDEX', async () => {
    const stateDir = path.join(root, 'jm');
    const config = managerConfig(prosody, 'jm', stateDir, {
      JM_REQUEST_COOLDOWN: String(COOLDOWN_SECONDS),
    });
    const jm: RunningJobManager = await startJobManager(config, {
      session: { ackTimeoutMs: 1000 },
    });
    stops.push(() => jm.stop());
    // When each want_getJob of the agent's account reached the manager.
    const wants: number[] = [];
    jm.session.onCommand((message) => {
      if (
        message.command.command === 'want_getJob' &&
        accountOf(message.from) === accountOf(prosody.jid('agent1'))
      ) {
        wants.push(Date.now());
      }
    });
    const task = path.join(root, 'task.sh');
    fs.writeFileSync(task, '#!/bin/sh\necho "index=$COPILOT_TASK_INDEX"\n', { mode: 0o755 });
    const batch = await submitBatch(
      jm.queue,
      new JobStorePaths(config.storageDir),
      { commandFile: task },
      { count: 2, kind: 'array' },
    );

    const agent: Agent = createAgent({
      settings: localAgentSettings(prosody, 'agent1', PASSWORD, {
        cpuLimitPercent: 100,
        memoryLimitMb: 256,
        diskLimitMb: 200,
        jobSlots: 1,
      }),
      dataDir: path.join(root, `agent1-${crypto.randomBytes(3).toString('hex')}`),
      docker,
      replyTimeoutMs: 3000,
      // Without the sleep the agent would ask every 0.3–1.5 s.
      fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
      retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
      session: { ackTimeoutMs: 1000 },
    });
    stops.push(() => agent.stop());
    await agent.start();

    const done = await Promise.all(
      batch.jobs.map(async (job) => {
        const finished = await waitForJob(jm.queue, job.id, 90_000);
        if (!finished) throw new Error(`job ${job.id} did not finish`);
        return finished;
      }),
    );
    expect(done.map((job) => job.state)).toEqual(['done', 'done']);
    for (const [index, job] of batch.jobs.entries()) {
      const stdout = fs.readFileSync(path.join(config.doneJobDir, job.id, 'stdout'), 'utf8');
      expect(stdout).toBe(`index=${index}\n`);
    }

    // Served want_getJobs are at least the cooldown apart, and after each `sleep` the agent
    // stayed quiet until the cooldown was over: a few requests, not one every second.
    const first = wants[0] ?? 0;
    const second = wants.find((at) => at - first >= COOLDOWN_SECONDS * 1000 - 200);
    expect(second, `wants at ${wants.map((at) => at - first).join(', ')} ms`).toBeDefined();
    const between = wants.filter((at) => at > first && at < (second ?? 0));
    // The agent asked once more while the first job was done and was told to sleep.
    expect(
      between.length,
      `wants at ${wants.map((at) => at - first).join(', ')} ms`,
    ).toBeGreaterThanOrEqual(1);
    expect(
      between.length,
      `wants at ${wants.map((at) => at - first).join(', ')} ms`,
    ).toBeLessThanOrEqual(2);
    for (const at of between) {
      // Each early request was answered with sleep until first + cooldown: the next one comes
      // no sooner than that (less a second for rounding up to whole seconds and delivery).
      const next = wants.find((later) => later > at) ?? Infinity;
      expect(next).toBeGreaterThanOrEqual(first + COOLDOWN_SECONDS * 1000 - 1000);
    }
  });
});
