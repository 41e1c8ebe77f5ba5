/**
 * What a report must look like before the Monitor stores it. Every accepted (component, event)
 * becomes Whisper files on the Carbon host and series on /metrics, so names are held to a strict
 * alphabet and length instead of being repaired.
 */
import type { ReportEvent, ReportEventDuration, ReportEventValue } from '@copilot/protocol';

export type MonitorReport = ReportEvent | ReportEventDuration | ReportEventValue;

/** Why a report was dropped; the `reason` label of copilot_monitor_dropped_reports_total. */
export const DROP_REASONS = ['sender', 'path', 'value', 'series-cap'] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type DropCounts = Record<DropReason, number>;

export function noDrops(): DropCounts {
  return { sender: 0, path: 0, value: 0, 'series-cap': 0 };
}

/** Longest Graphite path `copilot.<component>.<event>`, and most dot-separated parts in it. */
export const MAX_PATH_CHARS = 200;
export const MAX_PATH_PARTS = 12;

const DOTTED_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** Letters, digits, `_` and `-`, in parts separated by single dots, within the limits. */
export function isValidReportPath(component: string, event: string): boolean {
  const path = `copilot.${component}.${event}`;
  if (path.length > MAX_PATH_CHARS) return false;
  if (!DOTTED_NAME.test(component) || !DOTTED_NAME.test(event)) return false;
  return path.split('.').length <= MAX_PATH_PARTS;
}

/** Values must be finite; durations finite and not negative. */
export function isValidReportValue(report: MonitorReport): boolean {
  switch (report.command) {
    case 'reportEvent':
      return true;
    case 'reportEventDuration':
      return Number.isFinite(report.duration) && report.duration >= 0;
    case 'reportEventValue':
      return Number.isFinite(report.value);
  }
}

/** The first rule the report breaks, or undefined when it may be stored. */
export function reportProblem(report: MonitorReport): 'path' | 'value' | undefined {
  if (!isValidReportPath(report.component, report.event)) return 'path';
  if (!isValidReportValue(report)) return 'value';
  return undefined;
}
