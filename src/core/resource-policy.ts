/**
 * The volunteer's resource policy, shared by the desktop app and the headless agent: how much of
 * the machine jobs may use, and whether they may run at all right now: paused, timed pause,
 * "only when idle", and the "when to compute" rules (battery, time windows, other programs' CPU
 * use) that pause jobs, and the CPU temperature rule that slows them (a lower CPU quota, with
 * hysteresis) instead. The decision is pure (`decideRun`: inputs → decision + CPU factor);
 * `ResourcePolicy` keeps the live inputs and the agent applies the result to Docker.
 */
import type { AgentSettings, PauseRule } from '../contract/ui-contract';
import { inSchedule, parseSchedule, type ScheduleWindow } from '../contract/schedule';

/** Container limits derived from the settings, in Docker's units. */
export interface ContainerLimits {
  /** CPU in units of 1e-9 cores (HostConfig.NanoCpus). */
  nanoCpus: number;
  /** Bytes (HostConfig.Memory). */
  memoryBytes: number;
  /** Memory + swap in bytes (HostConfig.MemorySwap); equal to memoryBytes: no swap. */
  memorySwapBytes: number;
  /** HostConfig.PidsLimit */
  pidsLimit: number;
  /** Size of the job's disk use (work dir + stdout/stderr) before it is stopped, in bytes. */
  diskBytes: number;
}

export const DEFAULT_PIDS_LIMIT = 256;
const MB = 1024 * 1024;
/** Docker wants at least 0.01 CPU. */
const MIN_NANO_CPUS = 10_000_000;

/** Fraction of the host's cores jobs may use together, 0..1. */
export function cpuShare(settings: Pick<AgentSettings, 'cpuLimitPercent'>): number {
  return Math.min(100, Math.max(1, settings.cpuLimitPercent)) / 100;
}

export type LimitSettings = Pick<
  AgentSettings,
  'cpuLimitPercent' | 'memoryLimitMb' | 'diskLimitMb' | 'jobSlots'
>;

/**
 * Limits for one container. The CPU limit is for all jobs together, so with N slots each job gets
 * 1/N of it, times `cpuFactor` (the thermal rule's slow-down, 1 = none). The memory and disk caps
 * are per job, as the settings form says ("MB per job"), and the host JDL advertises the same.
 */
export function containerLimits(
  settings: LimitSettings,
  hostCpuCount: number,
  pidsLimit = DEFAULT_PIDS_LIMIT,
  cpuFactor = 1,
): ContainerLimits {
  const slots = Math.max(1, Math.floor(settings.jobSlots));
  const cores =
    Math.max(1, hostCpuCount) * cpuShare(settings) * Math.min(1, Math.max(0, cpuFactor));
  // Keep whole milli-cores.
  const nanoCpus = Math.max(MIN_NANO_CPUS, Math.floor((cores / slots) * 1000) * 1_000_000);
  // Docker refuses less than 6 MB of memory.
  const memoryBytes = Math.max(6 * MB, Math.floor(settings.memoryLimitMb * MB));
  const diskBytes = Math.floor(settings.diskLimitMb * MB);
  return { nanoCpus, memoryBytes, memorySwapBytes: memoryBytes, pidsLimit, diskBytes };
}

/** Whole cores all jobs together may use, at least 1. */
export function allowedCores(
  settings: Pick<AgentSettings, 'cpuLimitPercent'>,
  hostCpuCount: number,
): number {
  return Math.max(1, Math.floor(Math.max(1, hostCpuCount) * cpuShare(settings)));
}

/** Why jobs may not run now: the volunteer's pause, a rule of the settings, or idle-only. */
export type RunBlock = 'paused' | PauseRule | 'waiting-for-idle';

export type RunDecision =
  | {
      run: true;
      /** The CPU quota's factor below 1 while the CPU is too hot; absent: the full share. */
      cpuFactor?: number;
      /** Why jobs are slowed (the thermal rule), for the status line. */
      slowedBy?: string;
    }
  | { run: false; reason: RunBlock; detail?: string };

/** What the machine's sensors said last; null: unknown (no battery, no sensor). */
export interface SensorReadings {
  battery: { onBattery: boolean; percent: number } | null;
  cpuTemperatureC: number | null;
  /** Percent of all cores used by other programs than our jobs. */
  otherCpuPercent: number | null;
}

export const NO_READINGS: SensorReadings = {
  battery: null,
  cpuTemperatureC: null,
  otherCpuPercent: null,
};

export type RuleSettings = Pick<
  AgentSettings,
  'runOnBattery' | 'minBatteryPercent' | 'thermalLimitC' | 'busyCpuPercent'
>;

export interface PolicyState {
  /** settings.paused: paused until resumed. */
  paused: boolean;
  /** A timed pause ("pause for N minutes") ends at this time (ms since epoch). */
  pausedUntil: number | null;
  runOnlyWhenIdle: boolean;
  idleMinutes: number;
  /** Seconds since the volunteer last used the machine; null when the host never said. */
  idleSeconds: number | null;
  rules: RuleSettings;
  /** The computing windows (settings.computeSchedule parsed); empty: any time. */
  schedule: readonly ScheduleWindow[];
  readings: SensorReadings;
  /** The thermal rule's current factor (thermalStep), 1 = not slowed. */
  thermalFactor: number;
}

/** The thermal rule: each reading above the limit lowers the factor a step, down to this. */
export const THERMAL = { step: 0.1, floor: 0.2, hysteresisC: 5 } as const;

/**
 * One step of the thermal rule, from the factor before: above the limit, one step down (never
 * below THERMAL.floor: jobs slow, they do not stop); once THERMAL.hysteresisC below the limit, one
 * step back up; in between, unchanged. A limit of 0, or no sensor, restores the full share.
 */
export function thermalStep(previous: number, temperatureC: number | null, limitC: number): number {
  if (limitC <= 0 || temperatureC === null) return 1;
  const round = (value: number): number => Math.round(value * 100) / 100;
  if (temperatureC > limitC) return round(Math.max(THERMAL.floor, previous - THERMAL.step));
  if (temperatureC <= limitC - THERMAL.hysteresisC)
    return round(Math.min(1, previous + THERMAL.step));
  return previous;
}

function ruleBlock(state: PolicyState, now: number): RunDecision | null {
  const { rules, readings } = state;
  if (!inSchedule(state.schedule, new Date(now))) {
    return { run: false, reason: 'outside-schedule', detail: 'outside the computing hours' };
  }
  const battery = readings.battery;
  if (battery?.onBattery) {
    if (!rules.runOnBattery) return { run: false, reason: 'on-battery', detail: 'on battery' };
    if (battery.percent < rules.minBatteryPercent) {
      return {
        run: false,
        reason: 'battery-low',
        detail: `battery at ${Math.round(battery.percent)} % (below ${rules.minBatteryPercent} %)`,
      };
    }
  }
  const other = readings.otherCpuPercent;
  if (rules.busyCpuPercent > 0 && other !== null && other > rules.busyCpuPercent) {
    return {
      run: false,
      reason: 'computer-busy',
      detail: `other programs use ${Math.round(other)} % CPU (over ${rules.busyCpuPercent} %)`,
    };
  }
  return null;
}

/**
 * Whether jobs may run now, and how fast. No idle report from the host means the machine counts
 * as idle; an unknown sensor reading never blocks.
 */
export function decideRun(state: PolicyState, now: number): RunDecision {
  if (state.paused) return { run: false, reason: 'paused' };
  if (state.pausedUntil !== null && now < state.pausedUntil)
    return { run: false, reason: 'paused' };
  const blocked = ruleBlock(state, now);
  if (blocked) return blocked;
  if (state.runOnlyWhenIdle && !isIdle(state)) {
    return { run: false, reason: 'waiting-for-idle' };
  }
  const factor = state.thermalFactor;
  if (factor < 1) {
    const temperature = state.readings.cpuTemperatureC;
    const hot = temperature === null ? 'CPU hot' : `CPU at ${Math.round(temperature)} °C`;
    return {
      run: true,
      cpuFactor: factor,
      slowedBy: `${hot}, ${Math.round(factor * 100)} % speed`,
    };
  }
  return { run: true };
}

export function isIdle(state: Pick<PolicyState, 'idleSeconds' | 'idleMinutes'>): boolean {
  return state.idleSeconds === null || state.idleSeconds >= state.idleMinutes * 60;
}

function parsedSchedule(text: string): ScheduleWindow[] {
  try {
    return parseSchedule(text);
  } catch {
    // Validated when set; a bad value from an old file means no windows rather than no work.
    return [];
  }
}

/** The live policy: settings plus the host's idle reports, sensor readings and timed pauses. */
export class ResourcePolicy {
  private settings: AgentSettings;
  private schedule: ScheduleWindow[];
  private pausedUntilMs: number | null = null;
  private idleSecondsValue: number | null = null;
  private sensorIdleSeconds: number | null = null;
  private readingsValue: SensorReadings = NO_READINGS;
  private thermalFactorValue = 1;
  /** "Finish then pause": no new work; the agent pauses once the running jobs have ended. */
  finishing = false;
  /** Holds from outside the volunteer's settings (a project admin's pause: admin-orders.ts). */
  private readonly holds: Array<() => RunDecision | null> = [];
  /** This project's part of the allowed CPU when several share it (project-set.ts), 0..1. */
  shareFactor: () => number = () => 1;

  constructor(settings: AgentSettings) {
    this.settings = settings;
    this.schedule = parsedSchedule(settings.computeSchedule);
  }

  update(settings: AgentSettings): void {
    // A timed pause is kept across unrelated settings changes.
    if (settings.computeSchedule !== this.settings.computeSchedule) {
      this.schedule = parsedSchedule(settings.computeSchedule);
    }
    this.settings = settings;
    if (settings.thermalLimitC <= 0) this.thermalFactorValue = 1;
  }

  /** The host's idle reading (Electron's powerMonitor). */
  reportIdleSeconds(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.idleSecondsValue = seconds;
  }

  /**
   * New sensor readings (battery, CPU temperature, other programs' CPU use, and idle time from
   * logind or input devices when known); takes the thermal rule one step. Returns whether the CPU
   * factor changed.
   */
  reportReadings(readings: SensorReadings, idleSeconds: number | null = null): boolean {
    this.readingsValue = readings;
    if (idleSeconds !== null && Number.isFinite(idleSeconds) && idleSeconds >= 0) {
      this.sensorIdleSeconds = idleSeconds;
    }
    const before = this.thermalFactorValue;
    this.thermalFactorValue = thermalStep(
      before,
      readings.cpuTemperatureC,
      this.settings.thermalLimitC,
    );
    return this.thermalFactorValue !== before;
  }

  /** Starts a timed pause; returns its end. */
  pauseFor(minutes: number, now: number): number {
    this.pausedUntilMs = now + Math.max(0, minutes) * 60_000;
    return this.pausedUntilMs;
  }

  clearTimedPause(): void {
    this.pausedUntilMs = null;
  }

  /** The timed pause's end while it lasts; expired pauses are forgotten. */
  pausedUntil(now: number): number | null {
    if (this.pausedUntilMs !== null && now >= this.pausedUntilMs) this.pausedUntilMs = null;
    return this.pausedUntilMs;
  }

  /**
   * Seconds since the last input: the largest of the readings (a source that cannot see input,
   * like powerMonitor on Wayland, says 0), or null when nobody said.
   */
  get idleSeconds(): number | null {
    const known = [this.idleSecondsValue, this.sensorIdleSeconds].filter((v) => v !== null);
    return known.length === 0 ? null : Math.max(...known);
  }

  get thermalFactor(): number {
    return this.thermalFactorValue;
  }

  state(now: number): PolicyState {
    const { settings } = this;
    return {
      paused: settings.paused,
      pausedUntil: this.pausedUntil(now),
      runOnlyWhenIdle: settings.runOnlyWhenIdle,
      idleMinutes: settings.idleMinutes,
      idleSeconds: this.idleSeconds,
      rules: {
        runOnBattery: settings.runOnBattery,
        minBatteryPercent: settings.minBatteryPercent,
        thermalLimitC: settings.thermalLimitC,
        busyCpuPercent: settings.busyCpuPercent,
      },
      schedule: this.schedule,
      readings: this.readingsValue,
      thermalFactor: this.thermalFactorValue,
    };
  }

  decide(now: number): RunDecision {
    const own = decideRun(this.state(now), now);
    // The volunteer's own pause and rules come first; a hold only stops what they let run.
    if (!own.run) return own;
    for (const hold of this.holds) {
      const held = hold();
      if (held) return held;
    }
    return own;
  }

  /** Adds a hold that `decide` consults after the volunteer's settings (AdminOrders.decision). */
  addHold(hold: () => RunDecision | null): void {
    this.holds.push(hold);
  }

  /** Each container's limits now, with the thermal rule's factor. */
  limits(hostCpuCount: number): ContainerLimits {
    return containerLimits(
      this.settings,
      hostCpuCount,
      DEFAULT_PIDS_LIMIT,
      this.thermalFactorValue * Math.min(1, Math.max(0, this.shareFactor())),
    );
  }
}
