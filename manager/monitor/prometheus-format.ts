import { formatNumber } from './metric-path';

/** One family of Prometheus samples: `# HELP`, `# TYPE`, then the samples. */
export interface PrometheusFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'summary';
  samples: PrometheusSample[];
}

export interface PrometheusSample {
  /** Defaults to the family name; summaries use `<name>_sum` and `<name>_count`. */
  name?: string;
  labels?: Readonly<Record<string, string>>;
  value: number;
}

/** Label values escape backslash, double quote and newline (text format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatPrometheusValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return formatNumber(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** The Prometheus text exposition format (version 0.0.4) of the given families. */
export function formatPrometheus(families: readonly PrometheusFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(
        `${sample.name ?? family.name}${formatLabels(sample.labels)} ${formatPrometheusValue(sample.value)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
