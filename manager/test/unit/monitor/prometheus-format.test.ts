import { describe, expect, it } from 'vitest';
import { escapeLabelValue, formatPrometheus } from '@manager/monitor/prometheus-format';

describe('Prometheus text format', () => {
  it('HELP, TYPE and samples with labels', () => {
    const text = formatPrometheus([
      {
        name: 'copilot_events_total',
        help: 'Events.',
        type: 'counter',
        samples: [
          { labels: { component: 'jobmanager.generic.alpha', event: 'job.succeeded' }, value: 3 },
        ],
      },
      {
        name: 'copilot_event_duration_milliseconds',
        help: 'Durations.',
        type: 'summary',
        samples: [
          { name: 'copilot_event_duration_milliseconds_sum', value: 500 },
          { name: 'copilot_event_duration_milliseconds_count', value: 2 },
        ],
      },
      {
        name: 'copilot_monitor_updates',
        help: 'Updates.',
        type: 'gauge',
        samples: [{ value: 0.25 }],
      },
    ]);
    expect(text).toBe(
      [
        '# HELP copilot_events_total Events.',
        '# TYPE copilot_events_total counter',
        'copilot_events_total{component="jobmanager.generic.alpha",event="job.succeeded"} 3',
        '# HELP copilot_event_duration_milliseconds Durations.',
        '# TYPE copilot_event_duration_milliseconds summary',
        'copilot_event_duration_milliseconds_sum 500',
        'copilot_event_duration_milliseconds_count 2',
        '# HELP copilot_monitor_updates Updates.',
        '# TYPE copilot_monitor_updates gauge',
        'copilot_monitor_updates 0.25',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values and prints special values', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const text = formatPrometheus([
      {
        name: 'x',
        help: 'h',
        type: 'gauge',
        samples: [{ value: Number.NaN }, { value: Infinity }, { value: -Infinity }],
      },
    ]);
    expect(text.split('\n').slice(2, 5)).toEqual(['x NaN', 'x +Inf', 'x -Inf']);
  });
});
