import type { CarbonClient } from './carbon-client';
import type { DashboardHistory } from './dashboard-state';
import type { EventAggregator } from './event-aggregator';
import type { PrometheusFamily } from './prometheus-format';
import { DROP_REASONS, type DropCounts } from './report-rules';

/** The Monitor's metrics as Prometheus families: the same events that go to Carbon. */
export function monitorFamilies(
  aggregator: EventAggregator,
  history: DashboardHistory,
  carbon: CarbonClient,
  dropped: Readonly<DropCounts>,
): PrometheusFamily[] {
  const labels = (series: {
    component: string;
    event: string;
    path: string;
  }): Record<string, string> => ({
    component: series.component,
    event: series.event,
    path: series.path,
  });
  const durations = aggregator.durationSeries();
  const stats = aggregator.stats;
  const loads = history.agentLoads();
  return [
    {
      name: 'copilot_events_total',
      help: 'Events reported with reportEvent, since the Monitor started.',
      type: 'counter',
      samples: aggregator
        .counterSeries()
        .map((series) => ({ labels: labels(series), value: series.total })),
    },
    {
      name: 'copilot_event_value',
      help: 'Latest value reported with reportEventValue.',
      type: 'gauge',
      samples: aggregator
        .valueSeries()
        .map((series) => ({ labels: labels(series), value: series.value })),
    },
    {
      name: 'copilot_event_duration_milliseconds',
      help: 'Durations reported with reportEventDuration, since the Monitor started.',
      type: 'summary',
      samples: durations.flatMap((series) => [
        {
          name: 'copilot_event_duration_milliseconds_sum',
          labels: labels(series),
          value: series.sumMs,
        },
        {
          name: 'copilot_event_duration_milliseconds_count',
          labels: labels(series),
          value: series.count,
        },
      ]),
    },
    {
      name: 'copilot_event_duration_sample',
      help: 'Rollup of the last sample with durations (avg, gmean, min, max in ms; start, end in Unix seconds).',
      type: 'gauge',
      samples: durations.flatMap((series) => {
        const last = series.last;
        if (!last) return [];
        return (['avg', 'gmean', 'min', 'max', 'start', 'end'] as const).map((stat) => ({
          labels: { ...labels(series), stat },
          value: last[stat],
        }));
      }),
    },
    {
      name: 'copilot_monitor_updates',
      help: 'Updates logged in the last sample (copilot.monitor.updates).',
      type: 'gauge',
      samples: [{ value: stats.lastUpdates }],
    },
    {
      name: 'copilot_monitor_updates_total',
      help: 'Updates logged since the Monitor started.',
      type: 'counter',
      samples: [{ value: stats.updatesTotal }],
    },
    {
      name: 'copilot_monitor_dropped_reports_total',
      help: 'Reports dropped: sender not allowed, bad path, non-finite value or negative duration, series cap reached.',
      type: 'counter',
      samples: DROP_REASONS.map((reason) => ({ labels: { reason }, value: dropped[reason] })),
    },
    {
      name: 'copilot_monitor_carbon_connected',
      help: '1 while the Monitor is connected to Carbon.',
      type: 'gauge',
      samples: [{ value: carbon.isConnected ? 1 : 0 }],
    },
    {
      name: 'copilot_monitor_carbon_buffered_lines',
      help: 'Lines waiting for Carbon.',
      type: 'gauge',
      samples: [{ value: carbon.bufferedLines }],
    },
    {
      name: 'copilot_monitor_carbon_dropped_lines_total',
      help: 'Lines dropped because the buffer for Carbon was full.',
      type: 'counter',
      samples: [{ value: carbon.droppedLines }],
    },
    {
      name: 'copilot_heartbeat_load',
      help: 'System load of Heartbeat room members, from getStatus systemLoad.',
      type: 'gauge',
      samples: loads.flatMap((agent) => {
        const load = agent.load;
        if (!load) return [];
        return (['1min', '5min', '15min'] as const).map((window, index) => ({
          labels: { nick: agent.nick, window },
          value: load[index] ?? 0,
        }));
      }),
    },
    {
      name: 'copilot_heartbeat_member_answering',
      help: '1 when the room member answered the latest Heartbeat poll.',
      type: 'gauge',
      samples: loads.map((agent) => ({
        labels: { nick: agent.nick },
        value: agent.answering ? 1 : 0,
      })),
    },
  ];
}
