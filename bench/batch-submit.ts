/**
 * Batch submission: `copilot-job-submit --number N` as submitBatch does it (the inputs written
 * per job, then every job queued at once: one transaction with SQLite), timed for N = 1,000 on a
 * fresh SQLite queue in a temporary directory. The figure issue #17 asks for is under 2 s.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { submitBatch } from '@manager/job-manager/job-submission';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';
import { round } from './lib/stats';

export interface BatchSubmitResult {
  jobs: number;
  /** submitBatch from the call to the last job queued, ms (median of the runs). */
  submitMs: number;
  /** The queueing alone (addMany in one transaction), ms, of the same run. */
  queueMs: number;
  runs: number;
}

async function oneRun(count: number): Promise<{ submitMs: number; queueMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-batch-'));
  const queue = new SqliteJobQueue(path.join(dir, 'queue.sqlite'));
  try {
    const command = path.join(dir, 'calculator.sh');
    fs.writeFileSync(command, '#!/bin/bash\necho "2+2" | bc\n');
    const addMany = queue.addMany.bind(queue);
    let queueMs = 0;
    queue.addMany = async (jobs, now) => {
      const started = performance.now();
      const added = await addMany(jobs, now);
      queueMs = performance.now() - started;
      return added;
    };
    const started = performance.now();
    const batch = await submitBatch(
      queue,
      new JobStorePaths(path.join(dir, 'storage')),
      { commandFile: command },
      { count, kind: 'copies' },
    );
    const submitMs = performance.now() - started;
    if ((await queue.countQueued()) !== count || batch.jobs.length !== count) {
      throw new Error(`batch of ${count} queued ${await queue.countQueued()}`);
    }
    return { submitMs, queueMs };
  } finally {
    await queue.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureBatchSubmit(options: { quick: boolean }): Promise<BatchSubmitResult> {
  const count = 1000;
  const runs = options.quick ? 3 : 5;
  const results: Array<{ submitMs: number; queueMs: number }> = [];
  for (let run = 0; run < runs; run += 1) results.push(await oneRun(count));
  results.sort((a, b) => a.submitMs - b.submitMs);
  const median = results[Math.floor(results.length / 2)] ?? { submitMs: NaN, queueMs: NaN };
  return { jobs: count, submitMs: round(median.submitMs), queueMs: round(median.queueMs), runs };
}
