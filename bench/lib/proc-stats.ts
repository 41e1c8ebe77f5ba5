/**
 * CPU and memory of a process read from /proc (Linux), so that the process being measured does
 * not measure itself: utime+stime from /proc/<pid>/stat and VmRSS from /proc/<pid>/status.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let clockTicks: number | undefined;

/** Clock ticks per second of utime/stime (getconf CLK_TCK, nearly always 100). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  /** performance.now() when read. */
  atMs: number;
  /** utime + stime of the process, in seconds. */
  cpuSeconds: number;
  rssBytes: number;
}

/** One reading, or undefined when the process is gone. */
export function readProc(pid: number): ProcSample | undefined {
  let stat: string;
  let status: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssMatch = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return {
    atMs: performance.now(),
    cpuSeconds: (utime + stime) / clockTicksPerSecond(),
    rssBytes: rssMatch?.[1] ? Number(rssMatch[1]) * 1024 : 0,
  };
}

/** Pids of the whole tree under pid (children via /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const result: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const current = stack.pop() as number;
    result.push(current);
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${current}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = fs.readFileSync(`/proc/${current}/task/${tid}/children`, 'utf8');
        for (const child of children.split(' ')) if (child.trim()) stack.push(Number(child));
      } catch {
        // task gone
      }
    }
  }
  return result;
}

export interface UsageSummary {
  /** Mean CPU over the window, in percent of one core. */
  cpuPercent: number;
  cpuSeconds: number;
  wallSeconds: number;
  rssMeanBytes: number;
  rssMaxBytes: number;
  rssLastBytes: number;
  samples: number;
}

/** Samples one process every intervalMs; summary() reports the window since start(). */
export class ProcSampler {
  private readonly samples: ProcSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 500,
  ) {}

  start(): this {
    this.take();
    this.timer = setInterval(() => this.take(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): UsageSummary {
    clearInterval(this.timer);
    this.take();
    return this.summary();
  }

  private take(): void {
    const sample = readProc(this.pid);
    if (sample) this.samples.push(sample);
  }

  summary(): UsageSummary {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last === first) {
      return {
        cpuPercent: 0,
        cpuSeconds: 0,
        wallSeconds: 0,
        rssMeanBytes: last?.rssBytes ?? 0,
        rssMaxBytes: last?.rssBytes ?? 0,
        rssLastBytes: last?.rssBytes ?? 0,
        samples: this.samples.length,
      };
    }
    const wallSeconds = (last.atMs - first.atMs) / 1000;
    const cpuSeconds = last.cpuSeconds - first.cpuSeconds;
    const rss = this.samples.map((sample) => sample.rssBytes);
    return {
      cpuPercent: wallSeconds > 0 ? (100 * cpuSeconds) / wallSeconds : 0,
      cpuSeconds,
      wallSeconds,
      rssMeanBytes: rss.reduce((sum, value) => sum + value, 0) / rss.length,
      rssMaxBytes: Math.max(...rss),
      rssLastBytes: last.rssBytes,
      samples: this.samples.length,
    };
  }
}
