import type { ReportEvent, ReportEventDuration, ReportEventValue } from '@copilot/protocol';
import { DurationAccumulator, ROLLUP_SUFFIXES, type DurationRollup } from './duration-rollup';
import { metricPath, type MetricPoint } from './metric-path';
import { reportProblem, type DropReason, type MonitorReport } from './report-rules';

export type { MonitorReport } from './report-rules';

/** What is known about one (component, event) pair, for Prometheus and the dashboard. */
export interface EventSeries {
  component: string;
  event: string;
  path: string;
}

export interface CounterSeries extends EventSeries {
  total: number;
}

export interface ValueSeries extends EventSeries {
  value: number;
  timestamp: number;
}

export interface DurationSeries extends EventSeries {
  count: number;
  sumMs: number;
  /** The rollup of the last sample that had durations. */
  last?: DurationRollup;
}

export interface SampleResult {
  /** Points of this sample, `copilot.monitor.updates` last. */
  points: MetricPoint[];
  /** Updates logged in the sample: the immediate values sent since the last sample plus the sampled points. */
  updates: number;
}

/** Accepted reports give the points to send at once; refused ones say why. */
export type RecordOutcome =
  | { accepted: true; points: MetricPoint[] }
  | { accepted: false; reason: Exclude<DropReason, 'sender'> };

/** MON_MAX_SERIES's default. */
export const DEFAULT_MAX_SERIES = 5000;

const MONITOR_UPDATES_PATH = 'copilot.monitor.updates';

function key(component: string, event: string): string {
  return `${component}\u0000${event}`;
}

/**
 * Turns Monitor reports into Graphite datapoints (2.3): reportEvent is counted and the count
 * sent once per sample (0 for a known event that did not happen), reportEventDuration is
 * rolled up per sample, reportEventValue goes out at once. Keeps running totals as well, for at
 * most `maxSeries` series: an outsider's invented names must not grow memory, /metrics and the
 * Carbon host's disk without end.
 */
export class EventAggregator {
  private readonly sampleCounts = new Map<string, number>();
  private readonly sampleDurations = new Map<string, DurationAccumulator>();
  private readonly counters = new Map<string, CounterSeries>();
  private readonly values = new Map<string, ValueSeries>();
  private readonly durations = new Map<string, DurationSeries>();
  private immediateSinceSample = 0;
  private lastUpdates = 0;
  private updatesTotal = 0;

  constructor(private readonly maxSeries = DEFAULT_MAX_SERIES) {}

  /**
   * Records one report whose path and value follow report-rules; a new series beyond
   * `maxSeries` is refused, known series keep updating. Accepted reportEventValue points are
   * returned to be sent right away.
   */
  record(report: MonitorReport, atMs: number): RecordOutcome {
    const problem = reportProblem(report);
    if (problem) return { accepted: false, reason: problem };
    const id = key(report.component, report.event);
    if (!this.knows(report.command, id) && this.seriesCount >= this.maxSeries) {
      return { accepted: false, reason: 'series-cap' };
    }
    const path = metricPath(report.component, report.event);
    switch (report.command) {
      case 'reportEvent':
        this.count(report, id, path);
        return { accepted: true, points: [] };
      case 'reportEventDuration':
        this.addDuration(report, id, path, atMs);
        return { accepted: true, points: [] };
      case 'reportEventValue':
        return { accepted: true, points: [this.setValue(report, id, path, atMs)] };
    }
  }

  /** Distinct (kind, component, event) series held; each is at least one Graphite path. */
  get seriesCount(): number {
    return this.counters.size + this.values.size + this.durations.size;
  }

  private knows(command: MonitorReport['command'], id: string): boolean {
    if (command === 'reportEvent') return this.counters.has(id);
    if (command === 'reportEventDuration') return this.durations.has(id);
    return this.values.has(id);
  }

  private count(report: ReportEvent, id: string, path: string): void {
    this.sampleCounts.set(id, (this.sampleCounts.get(id) ?? 0) + 1);
    const counter = this.counters.get(id) ?? {
      component: report.component,
      event: report.event,
      path,
      total: 0,
    };
    counter.total += 1;
    this.counters.set(id, counter);
  }

  private addDuration(report: ReportEventDuration, id: string, path: string, atMs: number): void {
    const accumulator = this.sampleDurations.get(id) ?? new DurationAccumulator();
    accumulator.add(report.duration, atMs);
    this.sampleDurations.set(id, accumulator);
    const series = this.durations.get(id) ?? {
      component: report.component,
      event: report.event,
      path,
      count: 0,
      sumMs: 0,
    };
    series.count += 1;
    series.sumMs += report.duration;
    this.durations.set(id, series);
  }

  private setValue(report: ReportEventValue, id: string, path: string, atMs: number): MetricPoint {
    const timestamp = Math.floor(atMs / 1000);
    this.values.set(id, {
      component: report.component,
      event: report.event,
      path,
      value: report.value,
      timestamp,
    });
    this.immediateSinceSample += 1;
    return { path, value: report.value, timestamp };
  }

  /** Closes the current sample and returns its points. */
  sample(atMs: number): SampleResult {
    const timestamp = Math.floor(atMs / 1000);
    const points: MetricPoint[] = [];
    for (const [id, counter] of this.counters) {
      points.push({ path: counter.path, value: this.sampleCounts.get(id) ?? 0, timestamp });
    }
    for (const [id, accumulator] of this.sampleDurations) {
      const rollup = accumulator.rollup();
      const series = this.durations.get(id);
      if (!rollup || !series) continue;
      series.last = rollup;
      for (const suffix of ROLLUP_SUFFIXES) {
        points.push({ path: `${series.path}.${suffix}`, value: rollup[suffix], timestamp });
      }
    }
    this.sampleCounts.clear();
    this.sampleDurations.clear();
    const updates = points.length + this.immediateSinceSample;
    this.immediateSinceSample = 0;
    this.lastUpdates = updates;
    this.updatesTotal += updates;
    points.push({ path: MONITOR_UPDATES_PATH, value: updates, timestamp });
    return { points, updates };
  }

  counterSeries(): CounterSeries[] {
    return [...this.counters.values()];
  }

  /**
   * Forgets a value series (the dashboard's old batches), so that it no longer counts toward
   * `maxSeries`; Carbon keeps what it was sent.
   */
  forgetValue(component: string, event: string): void {
    this.values.delete(key(component, event));
  }

  valueSeries(): ValueSeries[] {
    return [...this.values.values()];
  }

  durationSeries(): DurationSeries[] {
    return [...this.durations.values()];
  }

  /** Sum of the counters (of the components `component` admits; all by default) named `event`. */
  totalOf(event: string, component: (component: string) => boolean = () => true): number {
    let total = 0;
    for (const counter of this.counters.values())
      if (counter.event === event && component(counter.component)) total += counter.total;
    return total;
  }

  /** Sum of the latest values (of the components admitted) whose event matches, or undefined. */
  latestValueOf(
    pattern: RegExp,
    component: (component: string) => boolean = () => true,
  ): number | undefined {
    let found = false;
    let total = 0;
    for (const series of this.values.values()) {
      if (!pattern.test(series.event) || !component(series.component)) continue;
      found = true;
      total += series.value;
    }
    return found ? total : undefined;
  }

  get stats(): { lastUpdates: number; updatesTotal: number } {
    return { lastUpdates: this.lastUpdates, updatesTotal: this.updatesTotal };
  }
}
