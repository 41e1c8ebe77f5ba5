import type { JobCounts } from './dashboard-state';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export interface HourlyJobs {
  /** Start of the hour, ms since the epoch. */
  t: number;
  succeeded: number;
  failed: number;
}

export interface QueuePoint {
  /** Start of the minute, ms since the epoch. */
  t: number;
  /** The last values seen in that minute; null while the manager has not reported them. */
  queued: number | null;
  running: number | null;
}

export interface JobRates {
  /** One entry per hour since the Monitor started (at most `hours`), oldest first. */
  hourly: HourlyJobs[];
  /** One point per minute with a sample (at most `minutes`), oldest first. */
  queue: QueuePoint[];
}

/**
 * The Monitor's own longer history behind the dashboard's plots: jobs finished per hour (done
 * and failed) and the queue length per minute, both bounded (48 hours and 24 hours by default).
 * It lives in memory: a restarted Monitor starts afresh, and Graphite keeps the long view.
 */
export class JobRateHistory {
  private readonly hours = new Map<number, HourlyJobs>();
  private readonly minutes: QueuePoint[] = [];
  private startedHour: number | undefined;
  private lastTotals: { succeeded: number; failed: number } | undefined;

  constructor(
    private readonly maxHours = 48,
    private readonly maxMinutes = 24 * 60,
  ) {}

  /** Records one sample: the counts' totals become per-hour increments. */
  add(counts: JobCounts, atMs: number): void {
    const hour = Math.floor(atMs / HOUR_MS) * HOUR_MS;
    this.startedHour ??= hour;
    const previous = this.lastTotals ?? { succeeded: 0, failed: 0 };
    // Totals only grow; a smaller one (not expected) counts from zero again.
    const succeeded = Math.max(0, counts.succeeded - previous.succeeded);
    const failed = Math.max(0, counts.failed - previous.failed);
    this.lastTotals = { succeeded: counts.succeeded, failed: counts.failed };
    const bucket = this.hours.get(hour) ?? { t: hour, succeeded: 0, failed: 0 };
    bucket.succeeded += succeeded;
    bucket.failed += failed;
    this.hours.set(hour, bucket);
    for (const key of this.hours.keys())
      if (key <= hour - this.maxHours * HOUR_MS) this.hours.delete(key);

    const minute = Math.floor(atMs / MINUTE_MS) * MINUTE_MS;
    const last = this.minutes.at(-1);
    const point = { t: minute, queued: counts.queued, running: counts.running };
    if (last?.t === minute) this.minutes[this.minutes.length - 1] = point;
    else this.minutes.push(point);
    if (this.minutes.length > this.maxMinutes)
      this.minutes.splice(0, this.minutes.length - this.maxMinutes);
  }

  /** The plots' data up to `nowMs`: hours without jobs are there with zeros. */
  rates(nowMs: number): JobRates {
    const hourly: HourlyJobs[] = [];
    if (this.startedHour !== undefined) {
      const current = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
      const first = Math.max(this.startedHour, current - (this.maxHours - 1) * HOUR_MS);
      for (let hour = first; hour <= current; hour += HOUR_MS)
        hourly.push({ ...(this.hours.get(hour) ?? { t: hour, succeeded: 0, failed: 0 }) });
    }
    return { hourly, queue: this.minutes.map((point) => ({ ...point })) };
  }
}
