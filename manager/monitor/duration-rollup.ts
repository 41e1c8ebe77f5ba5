/**
 * The per-sample summary of the durations reported with reportEventDuration (2.3.1). Our
 * reading of the report's suffixes:
 *  - `.start`: when the earliest measured event of the sample started (its arrival time minus
 *    its duration), Unix seconds;
 *  - `.end`: when the latest measured event of the sample ended (its arrival time), Unix seconds;
 *  - `.avg`, `.gmean`, `.min`, `.max`: arithmetic mean, geometric mean, shortest and longest
 *    duration, in milliseconds like the reported durations;
 *  - `.count` (ours): how many durations the sample holds.
 */
export interface DurationRollup {
  count: number;
  start: number;
  end: number;
  avg: number;
  gmean: number;
  min: number;
  max: number;
}

export const ROLLUP_SUFFIXES = ['start', 'end', 'avg', 'gmean', 'min', 'max', 'count'] as const;
export type RollupSuffix = (typeof ROLLUP_SUFFIXES)[number];

/** Accumulates durations of one event during one sample. */
export class DurationAccumulator {
  private count = 0;
  private sum = 0;
  private logSum = 0;
  private zeros = 0;
  private min = Infinity;
  private max = -Infinity;
  private firstStartMs = Infinity;
  private lastEndMs = -Infinity;

  /** A duration in milliseconds, received at `receivedAtMs`; negative or non-finite are refused. */
  add(durationMs: number, receivedAtMs: number): boolean {
    if (!Number.isFinite(durationMs) || durationMs < 0) return false;
    this.count += 1;
    this.sum += durationMs;
    if (durationMs === 0) this.zeros += 1;
    else this.logSum += Math.log(durationMs);
    this.min = Math.min(this.min, durationMs);
    this.max = Math.max(this.max, durationMs);
    this.firstStartMs = Math.min(this.firstStartMs, receivedAtMs - durationMs);
    this.lastEndMs = Math.max(this.lastEndMs, receivedAtMs);
    return true;
  }

  get size(): number {
    return this.count;
  }

  /** The summary, or undefined for an empty sample. A zero duration makes the gmean 0. */
  rollup(): DurationRollup | undefined {
    if (this.count === 0) return undefined;
    return {
      count: this.count,
      start: this.firstStartMs / 1000,
      end: this.lastEndMs / 1000,
      avg: this.sum / this.count,
      gmean: this.zeros > 0 ? 0 : Math.exp(this.logSum / this.count),
      min: this.min,
      max: this.max,
    };
  }
}

/** The rollup of a list of durations all received at `receivedAtMs` (handy for tests). */
export function rollupDurations(
  durationsMs: readonly number[],
  receivedAtMs: number,
): DurationRollup | undefined {
  const accumulator = new DurationAccumulator();
  for (const duration of durationsMs) accumulator.add(duration, receivedAtMs);
  return accumulator.rollup();
}
