import { describe, expect, it } from 'vitest';
import { EventAggregator } from '@manager/monitor/event-aggregator';
import { isValidReportPath, MAX_PATH_CHARS, reportProblem } from '@manager/monitor/report-rules';

const C = 'jobmanager.generic.alpha';

describe('report rules: paths and values', () => {
  it('paths are letters, digits, _ and - in dot-separated parts', () => {
    expect(isValidReportPath(C, 'job.succeeded')).toBe(true);
    expect(isValidReportPath('agent.e48b-42d9', 'system.load.1min')).toBe(true);
    for (const [component, event] of [
      [C, 'disk used /var'],
      [C, '../../etc'],
      ['jobmanager..generic', 'x'],
      ['.agent', 'x'],
      ['agent.', 'x'],
      ['', 'x'],
      [C, ''],
      [C, 'caf\u00e9'],
      [C, 'a\nb'],
      [C, '*'],
    ] as const) {
      expect(isValidReportPath(component, event), `${component} ${event}`).toBe(false);
    }
  });

  it(`paths are at most ${MAX_PATH_CHARS} characters and 12 parts, copilot. included`, () => {
    const event = 'x'.repeat(MAX_PATH_CHARS - 'copilot.agent.'.length);
    expect(isValidReportPath('agent', event)).toBe(true);
    expect(isValidReportPath('agent', `${event}x`)).toBe(false);
    expect(isValidReportPath('a.b.c.d.e', 'f.g.h.i.j.k')).toBe(true);
    expect(isValidReportPath('a.b.c.d.e', 'f.g.h.i.j.k.l')).toBe(false);
  });

  it('values are finite; durations finite and not negative', () => {
    const value = (v: number) => ({
      command: 'reportEventValue' as const,
      component: C,
      event: 'q',
      value: v,
    });
    const duration = (d: number) => ({
      command: 'reportEventDuration' as const,
      component: C,
      event: 'd',
      duration: d,
    });
    expect(reportProblem(value(-31337))).toBeUndefined();
    expect(reportProblem(value(Number.NaN))).toBe('value');
    expect(reportProblem(value(Infinity))).toBe('value');
    expect(reportProblem(duration(0))).toBeUndefined();
    expect(reportProblem(duration(-1))).toBe('value');
    expect(reportProblem(duration(Infinity))).toBe('value');
    expect(reportProblem({ ...value(Number.NaN), event: 'bad path' })).toBe('path');
  });
});

describe('series cap', () => {
  it('new series beyond maxSeries are refused; known ones keep updating, of every kind', () => {
    const aggregator = new EventAggregator(3);
    const value = (event: string, v: number) =>
      aggregator.record({ command: 'reportEventValue', component: C, event, value: v }, 0);
    expect(value('a', 1).accepted).toBe(true);
    expect(
      aggregator.record({ command: 'reportEvent', component: C, event: 'b' }, 0).accepted,
    ).toBe(true);
    expect(
      aggregator.record(
        { command: 'reportEventDuration', component: C, event: 'c', duration: 5 },
        0,
      ).accepted,
    ).toBe(true);
    expect(value('d', 1)).toEqual({ accepted: false, reason: 'series-cap' });
    // The same name as another kind is another series.
    expect(aggregator.record({ command: 'reportEvent', component: C, event: 'a' }, 0)).toEqual({
      accepted: false,
      reason: 'series-cap',
    });
    expect(value('a', 2)).toMatchObject({ accepted: true, points: [{ value: 2 }] });
    expect(
      aggregator.record({ command: 'reportEvent', component: C, event: 'b' }, 0).accepted,
    ).toBe(true);
    expect(aggregator.seriesCount).toBe(3);
    expect(aggregator.valueSeries().map((series) => [series.event, series.value])).toEqual([
      ['a', 2],
    ]);
    expect(aggregator.totalOf('b')).toBe(2);
    // A sample sends the held series only.
    const paths = aggregator.sample(1_000).points.map((point) => point.path);
    expect(paths.filter((path) => path.endsWith('.d'))).toEqual([]);
  });

  it('a bad path or value never counts towards the cap', () => {
    const aggregator = new EventAggregator(1);
    expect(
      aggregator.record({ command: 'reportEventValue', component: C, event: 'x y', value: 1 }, 0),
    ).toEqual({ accepted: false, reason: 'path' });
    expect(aggregator.seriesCount).toBe(0);
    expect(
      aggregator.record({ command: 'reportEventValue', component: C, event: 'ok', value: 1 }, 0)
        .accepted,
    ).toBe(true);
  });
});
