import { describe, expect, it } from 'vitest';
import { JobRateHistory } from '@manager/monitor/job-rate-history';

const HOUR = 3_600_000;
const counts = (succeeded: number, failed: number, queued: number | null = 0) => ({
  queued,
  running: 1,
  succeeded,
  failed,
});

describe('JobRateHistory', () => {
  it('turns running totals into jobs per hour, with empty hours filled in', () => {
    const history = new JobRateHistory();
    const t0 = 10 * HOUR;
    history.add(counts(2, 1), t0 + 1000);
    history.add(counts(5, 1), t0 + 2000);
    history.add(counts(6, 3), t0 + 2 * HOUR + 5);
    expect(history.rates(t0 + 3 * HOUR).hourly).toEqual([
      { t: t0, succeeded: 5, failed: 1 },
      { t: t0 + HOUR, succeeded: 0, failed: 0 },
      { t: t0 + 2 * HOUR, succeeded: 1, failed: 2 },
      { t: t0 + 3 * HOUR, succeeded: 0, failed: 0 },
    ]);
  });

  it('keeps the queue length per minute, the last sample of each minute', () => {
    const history = new JobRateHistory();
    history.add(counts(0, 0, 7), 60_000);
    history.add(counts(0, 0, 9), 61_000);
    history.add(counts(0, 0, null), 125_000);
    expect(history.rates(130_000).queue).toEqual([
      { t: 60_000, queued: 9, running: 1 },
      { t: 120_000, queued: null, running: 1 },
    ]);
  });

  it('is bounded: at most maxHours hours and maxMinutes minutes', () => {
    const history = new JobRateHistory(3, 5);
    for (let hour = 0; hour < 10; hour += 1) history.add(counts(hour, 0), hour * HOUR);
    const rates = history.rates(9 * HOUR);
    expect(rates.hourly.map((h) => h.t)).toEqual([7 * HOUR, 8 * HOUR, 9 * HOUR]);
    expect(rates.queue).toHaveLength(5);
  });

  it('a total that goes down (a manager restarted its count) adds nothing negative', () => {
    const history = new JobRateHistory();
    history.add(counts(10, 5), 0);
    history.add(counts(3, 0), 1000);
    expect(history.rates(1000).hourly).toEqual([{ t: 0, succeeded: 10, failed: 5 }]);
  });
});
