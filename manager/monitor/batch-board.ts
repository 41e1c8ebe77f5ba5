import type { ValueSeries } from './event-aggregator';
import { isAgentComponent } from './sender-allow-list';

/** The job states a manager reports per batch (`batch.<id>.<state>`), in display order. */
export const BATCH_STATES = [
  'queued',
  'leased',
  'running',
  'uploading',
  'done',
  'failed',
  'cancelled',
] as const;
export type BatchState = (typeof BATCH_STATES)[number];

export interface BatchProgress {
  /** The reporting manager's component, e.g. `jobmanager.generic.alpha`. */
  component: string;
  batch: string;
  counts: Record<BatchState, number>;
  total: number;
  /** When its figures last arrived, ms since the epoch. */
  updatedMs: number;
}

const BATCH_EVENT =
  /^batch\.([A-Za-z0-9_-]+)\.(queued|leased|running|uploading|done|failed|cancelled)$/;

function emptyCounts(): Record<BatchState, number> {
  return { queued: 0, leased: 0, running: 0, uploading: 0, done: 0, failed: 0, cancelled: 0 };
}

/**
 * Batch progress from the managers' `batch.<id>.<state>` values, the most recently updated
 * first, at most `limit`. Values are counts of jobs, so a negative or fractional one (a sender
 * on the allow-list that misbehaves) is shown as 0 or rounded down.
 */
export function batchProgress(series: readonly ValueSeries[], limit = 20): BatchProgress[] {
  const batches = new Map<string, BatchProgress>();
  for (const entry of series) {
    const match = BATCH_EVENT.exec(entry.event);
    // Batches are the managers' figures; an agent's component never holds one.
    if (!match || isAgentComponent(entry.component)) continue;
    const [, batch = '', state] = match;
    const key = `${entry.component}\u0000${batch}`;
    const progress = batches.get(key) ?? {
      component: entry.component,
      batch,
      counts: emptyCounts(),
      total: 0,
      updatedMs: 0,
    };
    progress.counts[state as BatchState] = Math.max(0, Math.floor(entry.value));
    progress.updatedMs = Math.max(progress.updatedMs, entry.timestamp * 1000);
    batches.set(key, progress);
  }
  const all = [...batches.values()];
  for (const progress of all)
    progress.total = BATCH_STATES.reduce((sum, state) => sum + progress.counts[state], 0);
  return all
    .sort((a, b) => b.updatedMs - a.updatedMs || a.batch.localeCompare(b.batch))
    .slice(0, limit);
}

/** The batches beyond the newest `keep` (by last update): their series may be forgotten. */
export function staleBatchEvents(series: readonly ValueSeries[], keep: number): ValueSeries[] {
  const newest = new Set(
    batchProgress(series, keep).map((progress) => `${progress.component}\u0000${progress.batch}`),
  );
  return series.filter((entry) => {
    const match = BATCH_EVENT.exec(entry.event);
    return match !== null && !newest.has(`${entry.component}\u0000${match[1] ?? ''}`);
  });
}
