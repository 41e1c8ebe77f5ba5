import { describe, expect, it } from 'vitest';
import { batchProgress, staleBatchEvents } from '@manager/monitor/batch-board';
import type { ValueSeries } from '@manager/monitor/event-aggregator';

const JM = 'jobmanager.generic.alpha';
const value = (event: string, v: number, timestamp = 100, component = JM): ValueSeries => ({
  component,
  event,
  path: `copilot.${component}.${event}`,
  value: v,
  timestamp,
});

describe('batchProgress', () => {
  it('groups batch.<id>.<state> values per manager and batch, newest first', () => {
    const series = [
      value('queuedJobs', 9),
      value('batch.b1.queued', 3, 100),
      value('batch.b1.running', 2, 100),
      value('batch.b1.done', 5, 101),
      value('batch.b2.done', 4, 200),
      value('batch.b2.failed', 1, 200),
      value('batch.b1.done', 1, 300, 'jobmanager.generic.beta'),
      value('batch.b3.exploded', 1, 400),
      // An agent's component is never a manager's batch (MON_ALLOWED_SENDERS may allow agents).
      value('batch.fake.done', 999, 500, 'agent.desk-1'),
    ];
    const progress = batchProgress(series);
    expect(progress.map((p) => [p.component, p.batch, p.total, p.updatedMs])).toEqual([
      ['jobmanager.generic.beta', 'b1', 1, 300_000],
      [JM, 'b2', 5, 200_000],
      [JM, 'b1', 10, 101_000],
    ]);
    expect(progress[2]?.counts).toEqual({
      queued: 3,
      leased: 0,
      running: 2,
      uploading: 0,
      done: 5,
      failed: 0,
      cancelled: 0,
    });
  });

  it('negative and fractional counts from a misbehaving sender show as whole, non-negative', () => {
    const [progress] = batchProgress([value('batch.b1.queued', -5), value('batch.b1.done', 2.7)]);
    expect(progress?.counts.queued).toBe(0);
    expect(progress?.counts.done).toBe(2);
    expect(progress?.total).toBe(2);
  });

  it('at most `limit` batches; the older ones are stale', () => {
    const series = [1, 2, 3].map((n) => value(`batch.b${n}.done`, n, n));
    expect(batchProgress(series, 2).map((p) => p.batch)).toEqual(['b3', 'b2']);
    expect(staleBatchEvents([...series, value('queuedJobs', 1)], 2).map((s) => s.event)).toEqual([
      'batch.b1.done',
    ]);
  });
});
