import { bareJid } from '@copilot/protocol';
import { escapeLogText, type Logger } from '@copilot/base/logger';
import type { EventAggregator, MonitorReport } from './event-aggregator';
import type { MetricPoint } from './metric-path';
import {
  MAX_PATH_CHARS,
  MAX_PATH_PARTS,
  noDrops,
  type DropCounts,
  type DropReason,
} from './report-rules';
import type { SenderAllowList } from './sender-allow-list';
import { ThrottledLog } from '@copilot/base/throttled-log';

export interface ReportIntakeOptions {
  allowList: SenderAllowList;
  aggregator: EventAggregator;
  /** MON_MAX_SERIES, for the log line. */
  maxSeries: number;
  logger: Logger;
  /** Clock for the log rate, for tests. */
  now?: () => number;
}

/** Names a peer sent are cut to this length in log lines. */
const LOGGED_NAME_CHARS = 80;

function dropMessage(reason: DropReason, maxSeries: number): string {
  switch (reason) {
    case 'sender':
      return 'report dropped: sender not allowed (MON_ALLOWED_SENDERS)';
    case 'path':
      return `report dropped: component or event is not a path of letters, digits, _ and - separated by dots (at most ${MAX_PATH_CHARS} characters, ${MAX_PATH_PARTS} parts)`;
    case 'value':
      return 'report dropped: value is not a finite number, or duration is negative';
    case 'series-cap':
      return `report dropped: ${maxSeries} series already held (MON_MAX_SERIES); known series still update`;
  }
}

/**
 * The Monitor's door for reportEvent*: the sender must be on the allow-list, then the aggregator
 * applies the path, value and series rules. Every drop is counted by reason and logged at a
 * bounded rate, per reason and sender account.
 */
export class ReportIntake {
  private readonly counts = noDrops();
  private readonly log: ThrottledLog;

  constructor(private readonly options: ReportIntakeOptions) {
    this.log = new ThrottledLog(options.logger, { now: options.now });
  }

  /** Stores the report if it is admitted; returns the points to send to Carbon at once. */
  receive(from: string, report: MonitorReport, atMs: number): MetricPoint[] {
    if (!this.options.allowList.allowsReport(from, report.component))
      return this.drop('sender', from, report);
    const outcome = this.options.aggregator.record(report, atMs);
    return outcome.accepted ? outcome.points : this.drop(outcome.reason, from, report);
  }

  get dropped(): Readonly<DropCounts> {
    return this.counts;
  }

  private drop(reason: DropReason, from: string, report: MonitorReport): [] {
    this.counts[reason] += 1;
    this.log.warn(
      `${reason} ${bareJid(from).toLowerCase()}`,
      dropMessage(reason, this.options.maxSeries),
      {
        from: escapeLogText(from, LOGGED_NAME_CHARS),
        command: report.command,
        component: escapeLogText(report.component, LOGGED_NAME_CHARS),
        event: escapeLogText(report.event, LOGGED_NAME_CHARS),
      },
    );
    return [];
  }
}
