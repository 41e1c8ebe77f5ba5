import { describe, expect, it } from 'vitest';
import { DurationAccumulator, rollupDurations } from '@manager/monitor/duration-rollup';

describe('duration rollup', () => {
  it('avg, gmean, min, max and count', () => {
    const rollup = rollupDurations([100, 400], 10_000);
    expect(rollup).toMatchObject({ count: 2, avg: 250, min: 100, max: 400 });
    expect(rollup?.gmean).toBeCloseTo(200, 10);
    expect(rollupDurations([2, 8, 4], 0)?.gmean).toBeCloseTo(4, 10);
  });

  it('gmean of a single duration is that duration; a zero duration makes it 0', () => {
    expect(rollupDurations([37], 0)?.gmean).toBeCloseTo(37, 10);
    expect(rollupDurations([0, 50], 0)?.gmean).toBe(0);
  });

  it('gmean does not overflow for many long durations', () => {
    const rollup = rollupDurations(
      Array.from({ length: 10_000 }, () => 1e9),
      0,
    );
    expect(rollup?.gmean).toBeCloseTo(1e9, 0);
  });

  it('start is when the earliest event began, end when the latest ended (Unix seconds)', () => {
    const accumulator = new DurationAccumulator();
    accumulator.add(500, 10_000); // ran 9.5 s .. 10 s
    accumulator.add(3_000, 11_000); // ran 8 s .. 11 s
    expect(accumulator.rollup()).toMatchObject({ start: 8, end: 11 });
  });

  it('refuses negative and non-finite durations; an empty sample has no rollup', () => {
    const accumulator = new DurationAccumulator();
    expect(accumulator.add(-1, 0)).toBe(false);
    expect(accumulator.add(Number.NaN, 0)).toBe(false);
    expect(accumulator.rollup()).toBeUndefined();
  });
});
