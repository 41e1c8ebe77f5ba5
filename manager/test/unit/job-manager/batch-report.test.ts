import { describe, expect, it } from 'vitest';
import {
  BatchReporter,
  batchPathName,
  countBatches,
  type BatchEvent,
} from '@manager/job-manager/batch-report';
import type { JobRecord, JobState } from '@manager/job-manager/job-record';

function job(id: string, state: JobState, batch: string | undefined, submittedAt = 1): JobRecord {
  return {
    id,
    state,
    batch,
    seq: 1,
    submittedAt,
    updatedAt: submittedAt,
    attempts: 0,
    command: 'run.sh',
    arguments: '',
    environment: '',
    packages: '',
    inputFiles: 'run.sh',
  };
}

class FakeMonitor {
  enabled = true;
  readonly values: [BatchEvent, number][] = [];
  value(event: BatchEvent, value: number): void {
    this.values.push([event, value]);
  }
}

describe('countBatches', () => {
  it('counts each batch by state, newest batch first; jobs outside batches are left out', () => {
    const batches = countBatches([
      job('a-0', 'done', 'a', 1),
      job('a-1', 'queued', 'a', 1),
      job('b-0', 'failed', 'b', 5),
      job('solo', 'queued', undefined),
    ]);
    expect(batches.map((b) => [b.batch, b.counts.done, b.counts.queued, b.counts.failed])).toEqual([
      ['b', 0, 0, 1],
      ['a', 1, 1, 0],
    ]);
  });

  it('a batch id with dots becomes one path component', () => {
    expect(batchPathName('lhc.run-2')).toBe('lhc_run-2');
  });
});

describe('BatchReporter', () => {
  it('reports open batches, sends changes only, and a finished batch once more', async () => {
    let jobs = [job('a-0', 'queued', 'a'), job('a-1', 'running', 'a'), job('old-0', 'done', 'old')];
    const monitor = new FakeMonitor();
    const reporter = new BatchReporter({
      queue: { list: () => Promise.resolve(jobs) },
      monitor,
      refreshRounds: 100,
    });
    expect(await reporter.report()).toBe(1);
    expect(monitor.values).toEqual([
      ['batch.a.queued', 1],
      ['batch.a.leased', 0],
      ['batch.a.running', 1],
      ['batch.a.uploading', 0],
      ['batch.a.done', 0],
      ['batch.a.failed', 0],
      ['batch.a.cancelled', 0],
    ]);
    monitor.values.length = 0;
    expect(await reporter.report()).toBe(0);
    jobs = [job('a-0', 'done', 'a'), job('a-1', 'failed', 'a'), job('old-0', 'done', 'old')];
    expect(await reporter.report()).toBe(1);
    expect(monitor.values.filter(([, v]) => v > 0)).toEqual([
      ['batch.a.done', 1],
      ['batch.a.failed', 1],
    ]);
    monitor.values.length = 0;
    expect(await reporter.report()).toBe(0);
    expect(monitor.values).toEqual([]);
  });

  it('at most maxBatches, the newest; nothing without a monitor', async () => {
    const jobs = [1, 2, 3].map((n) => job(`b${n}-0`, 'queued', `b${n}`, n));
    const monitor = new FakeMonitor();
    const reporter = new BatchReporter({
      queue: { list: () => Promise.resolve(jobs) },
      monitor,
      maxBatches: 2,
    });
    await reporter.report();
    expect(new Set(monitor.values.map(([event]) => event.split('.')[1]))).toEqual(
      new Set(['b3', 'b2']),
    );
    monitor.enabled = false;
    expect(await reporter.report()).toBe(0);
  });
});
