/** One datapoint for Carbon: `path value timestamp` (seconds since the epoch). */
export interface MetricPoint {
  path: string;
  value: number;
  timestamp: number;
}

/**
 * Makes one Graphite path component safe: anything but letters, digits, `_` and `-` (spaces,
 * slashes, dots inside a component, `@`) becomes `_`. Whisper turns path components into
 * directories, so a slash or `..` must never reach it.
 */
export function sanitisePathComponent(part: string): string {
  const cleaned = part.trim().replace(/[^A-Za-z0-9_-]+/g, '_');
  return cleaned === '' ? '_' : cleaned;
}

/** Splits a dotted name into sanitised path components, dropping empty ones (`a..b`, `.a`). */
function pathComponents(dotted: string): string[] {
  return dotted
    .split('.')
    .filter((part) => part.trim() !== '')
    .map(sanitisePathComponent);
}

/**
 * The report's Graphite path (2.3.2): `copilot.<component>.<event>[.<suffix>]`, so component
 * `jobmanager.generic.alpha` and event `job.succeeded` give
 * `copilot.jobmanager.generic.alpha.job.succeeded`. Reports with other characters are dropped
 * before this (report-rules); the sanitising stays as the last guard in front of Whisper.
 */
export function metricPath(component: string, event: string, suffix?: string): string {
  const parts = ['copilot', ...pathComponents(component), ...pathComponents(event)];
  if (suffix !== undefined) parts.push(...pathComponents(suffix));
  return parts.join('.');
}

/** Carbon's plaintext protocol line, newline included. Non-finite values are not sendable. */
export function carbonLine(point: MetricPoint): string {
  return `${point.path} ${formatNumber(point.value)} ${Math.floor(point.timestamp)}\n`;
}

/** Shortest exact text of a number, without exponent for the usual magnitudes. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(12)));
}
