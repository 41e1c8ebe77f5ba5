import { describe, expect, it } from 'vitest';
import { inSchedule, parseSchedule, scheduleProblem } from '@copilot/contract/schedule';

describe('computing schedule', () => {
  it('parses day ranges, lists and daily; checks times', () => {
    const [weekdays, weekend, daily] = parseSchedule(
      'Mon-Fri 18:00-08:00; Sat,Sun 9:30-24:00; daily 12:00-13:00',
    );
    expect([...(weekdays?.days ?? [])].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(weekend).toMatchObject({ start: 570, end: 1440 });
    expect(daily?.days.size).toBe(7);
    expect(parseSchedule('')).toEqual([]);
    expect(parseSchedule('Fri-Mon 00:00-01:00')[0]?.days).toEqual(new Set([5, 6, 0, 1]));
    expect(scheduleProblem('Mon 18:00-08:00')).toBeNull();
    expect(scheduleProblem('Someday 18:00-08:00')).toMatch(/unknown day/);
    expect(scheduleProblem('Mon 25:00-08:00')).toMatch(/bad time/);
    expect(scheduleProblem('evenings')).toMatch(/not like/);
  });

  it('a window passing midnight belongs to its day until the end time', () => {
    const windows = parseSchedule('Fri 22:00-06:00');
    expect(inSchedule(windows, new Date(2026, 10, 27, 23, 0))).toBe(true); // Friday
    expect(inSchedule(windows, new Date(2026, 10, 28, 5, 59))).toBe(true); // Saturday morning
    expect(inSchedule(windows, new Date(2026, 10, 28, 6, 0))).toBe(false);
    expect(inSchedule(windows, new Date(2026, 10, 27, 5, 0))).toBe(false); // Friday morning
    expect(inSchedule([], new Date())).toBe(true);
  });
});
