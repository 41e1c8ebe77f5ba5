/**
 * What the "when to compute" rules read from the machine: the battery, the CPU temperature and
 * how much CPU other programs use (systeminformation), and, for a host without Electron's
 * powerMonitor (headless, or a Wayland desktop where it sees no input), the idle time from
 * systemd-logind's IdleHint (`loginctl show-session` of the manager, run with execFile) or,
 * failing that, the last access time of /dev/input/event*. Every source is injectable, and every
 * failure reads as "unknown" (null), which never blocks work.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Systeminformation } from 'systeminformation';
import type { SensorReadings } from './resource-policy';

/** The parts of systeminformation the rules read, so tests can inject results. */
export interface SensorSource {
  battery(): Promise<Pick<Systeminformation.BatteryData, 'hasBattery' | 'acConnected' | 'percent'>>;
  cpuTemperature(): Promise<Pick<Systeminformation.CpuTemperatureData, 'main'>>;
  currentLoad(): Promise<Pick<Systeminformation.CurrentLoadData, 'currentLoad'>>;
}

/** Runs a program with arguments (never a shell) and gives its stdout. */
export type RunProgram = (file: string, args: readonly string[]) => Promise<string>;

export const runProgram: RunProgram = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 5_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });

/**
 * Idle seconds from `loginctl show-session -p IdleHint -p IdleSinceHint` (the manager's
 * properties: idle only when every session is). IdleSinceHint is µs since the epoch; null when
 * the output says nothing usable.
 */
export function parseLogindIdle(output: string, nowMs: number): number | null {
  const properties = new Map<string, string>();
  for (const line of output.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) properties.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const hint = properties.get('IdleHint');
  if (hint === 'no') return 0;
  if (hint !== 'yes') return null;
  const since = Number(properties.get('IdleSinceHint'));
  if (!Number.isFinite(since) || since <= 0) return null;
  return Math.max(0, (nowMs - since / 1000) / 1000);
}

export async function logindIdleSeconds(run: RunProgram, nowMs: number): Promise<number | null> {
  try {
    const output = await run('loginctl', ['show-session', '-p', 'IdleHint', '-p', 'IdleSinceHint']);
    return parseLogindIdle(output, nowMs);
  } catch {
    return null;
  }
}

/** Seconds since any input device was last read (its access time), or null. */
export function inputDevicesIdleSeconds(dir: string, nowMs: number): number | null {
  let latest = 0;
  try {
    for (const name of fs.readdirSync(dir)) {
      if (!name.startsWith('event')) continue;
      latest = Math.max(latest, fs.statSync(path.join(dir, name)).atimeMs);
    }
  } catch {
    return null;
  }
  return latest > 0 ? Math.max(0, (nowMs - latest) / 1000) : null;
}

/** Which readings a rule needs now; the others are not taken (a temperature costs ~6 ms CPU). */
export interface SensorNeeds {
  temperature: boolean;
  load: boolean;
  idle: boolean;
}

export interface HostSensorsOptions {
  source: SensorSource;
  /** Default: every reading. The battery is always read (it costs next to nothing). */
  needs?: () => SensorNeeds;
  /** Our jobs' CPU seconds so far, summed (to tell their load from other programs'). */
  ownCpuSeconds: () => number;
  hostCpuCount: number;
  run?: RunProgram;
  /** Read idle time from logind and /dev/input; off when the host reports it (Electron). */
  idle?: boolean;
  inputDir?: string;
}

export interface SensorSample {
  readings: SensorReadings;
  idleSeconds: number | null;
}

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Samples the sensors; other programs' CPU use is the load less our jobs' since the last sample. */
export class HostSensors {
  private lastOwn: { at: number; cpuSeconds: number } | null = null;

  constructor(private readonly options: HostSensorsOptions) {}

  async sample(nowMs: number): Promise<SensorSample> {
    const { source } = this.options;
    const needs = this.options.needs?.() ?? { temperature: true, load: true, idle: true };
    const [battery, temperature, load] = await Promise.all([
      source.battery().catch(() => null),
      needs.temperature ? source.cpuTemperature().catch(() => null) : null,
      needs.load ? source.currentLoad().catch(() => null) : null,
    ]);
    const percent = finiteOrNull(battery?.percent);
    const main = finiteOrNull(temperature?.main);
    return {
      readings: {
        battery:
          battery?.hasBattery === true && percent !== null
            ? { onBattery: !battery.acConnected, percent }
            : null,
        // systeminformation says -1 or 0 when it has no sensor.
        cpuTemperatureC: main !== null && main > 0 ? main : null,
        otherCpuPercent: this.otherCpu(finiteOrNull(load?.currentLoad), nowMs),
      },
      idleSeconds: this.options.idle === true && needs.idle ? await this.idleSeconds(nowMs) : null,
    };
  }

  private otherCpu(totalPercent: number | null, nowMs: number): number | null {
    const cpuSeconds = this.options.ownCpuSeconds();
    const last = this.lastOwn;
    this.lastOwn = { at: nowMs, cpuSeconds };
    if (totalPercent === null) return null;
    if (last === null || nowMs <= last.at) return totalPercent;
    const cores = Math.max(1, this.options.hostCpuCount);
    const ownPercent =
      (Math.max(0, cpuSeconds - last.cpuSeconds) / ((nowMs - last.at) / 1000) / cores) * 100;
    return Math.max(0, totalPercent - ownPercent);
  }

  private async idleSeconds(nowMs: number): Promise<number | null> {
    const logind = await logindIdleSeconds(this.options.run ?? runProgram, nowMs);
    if (logind !== null) return logind;
    return inputDevicesIdleSeconds(this.options.inputDir ?? '/dev/input', nowMs);
  }
}
