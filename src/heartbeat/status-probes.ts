import os from 'node:os';
import si from 'systeminformation';
import { STATUS_COMPONENTS, type StatusComponent } from '../protocol';
import { errorMessage } from '../base/errors';

/** Reads one status component of this host and describes it as haveStatus's `status` string. */
export type StatusProbe = () => Promise<string>;
/**
 * The report's components, and `extra` ones of a component's own (ours): the agent answers
 * `agentState` (what it is doing, for a fleet console). A component without an extra probe
 * answers a question about it as about any unknown component.
 */
export type StatusProbes = Readonly<Record<StatusComponent, StatusProbe>> & {
  readonly extra?: Readonly<Record<string, StatusProbe>>;
};

const MB = 1024 * 1024;

function megabytes(bytes: number): string {
  return String(Math.round(bytes / MB));
}

function percent(part: number, whole: number): string {
  return whole > 0 ? ((part / whole) * 100).toFixed(1) : '0.0';
}

/** `1min 5min 15min` load averages, two decimals each, as in listing 4.19: `0.90 0.65 0.52`. */
export function formatSystemLoad(loads: readonly number[]): string {
  return [0, 1, 2].map((index) => (loads[index] ?? 0).toFixed(2)).join(' ');
}

export interface FileSystemUsage {
  mount: string;
  size: number;
  used: number;
}

/** One `; `-separated entry per mount: `/ usedMB=23889 sizeMB=258019 usedPercent=9.3`. */
export function formatDiskUsage(fileSystems: readonly FileSystemUsage[]): string {
  if (fileSystems.length === 0) return 'error: no file systems found';
  return fileSystems
    .map(
      (fs) =>
        `${fs.mount.replace(/\s/g, '_')} usedMB=${megabytes(fs.used)} sizeMB=${megabytes(fs.size)} usedPercent=${percent(fs.used, fs.size)}`,
    )
    .join('; ');
}

export interface MemoryUsage {
  total: number;
  available: number;
  swapTotal: number;
  swapUsed: number;
}

/** `usedMB=… totalMB=… usedPercent=… swapUsedMB=… swapTotalMB=…`; used excludes caches. */
export function formatMemoryUsage(memory: MemoryUsage): string {
  const used = Math.max(0, memory.total - memory.available);
  return [
    `usedMB=${megabytes(used)}`,
    `totalMB=${megabytes(memory.total)}`,
    `usedPercent=${percent(used, memory.total)}`,
    `swapUsedMB=${megabytes(memory.swapUsed)}`,
    `swapTotalMB=${megabytes(memory.swapTotal)}`,
  ].join(' ');
}

export interface ProcessCounts {
  all: number;
  running: number;
  blocked: number;
  sleeping: number;
}

/** `all=94 running=2 blocked=0 sleeping=54`. */
export function formatRunningProcesses(counts: ProcessCounts): string {
  return `all=${counts.all} running=${counts.running} blocked=${counts.blocked} sleeping=${counts.sleeping}`;
}

/** Real readings of this host, through systeminformation and node:os. */
export const hostStatusProbes: StatusProbes = {
  systemLoad: () => Promise.resolve(formatSystemLoad(os.loadavg())),
  diskUsage: async () => {
    const all = await si.fsSize();
    // Pseudo and container overlay mounts say nothing about the host's disks.
    const real = all.filter(
      (fs) => fs.size > 0 && !/^(tmpfs|devtmpfs|overlay|squashfs)$/.test(fs.type),
    );
    return formatDiskUsage(real.length > 0 ? real : all);
  },
  memoryUsage: async () => {
    const memory = await si.mem();
    return formatMemoryUsage({
      total: memory.total,
      available: memory.available,
      swapTotal: memory.swaptotal,
      swapUsed: memory.swapused,
    });
  },
  runningProcesses: async () => formatRunningProcesses(await si.processes()),
};

export function isStatusComponent(name: string): name is StatusComponent {
  return (STATUS_COMPONENTS as readonly string[]).includes(name);
}

/** The extra probe for `component`, when the component has one of that name (own keys only). */
function extraProbe(probes: StatusProbes, component: string): StatusProbe | undefined {
  const extra = probes.extra;
  return extra && Object.hasOwn(extra, component) ? extra[component] : undefined;
}

/** The status string for `component`, or an `error: …` string; never throws. */
export async function readStatus(
  component: string,
  probes: StatusProbes = hostStatusProbes,
): Promise<string> {
  const probe = isStatusComponent(component) ? probes[component] : extraProbe(probes, component);
  if (!probe) {
    const known = [...STATUS_COMPONENTS, ...Object.keys(probes.extra ?? {})];
    return `error: unknown component '${component}'; known: ${known.join(', ')}`;
  }
  try {
    return await probe();
  } catch (error) {
    return `error: cannot read ${component}: ${errorMessage(error)}`;
  }
}
