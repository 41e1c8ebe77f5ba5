/**
 * The volunteer's resource policy, shared by the desktop app and the headless agent: how much of
 * the machine jobs may use, and whether they may run at all right now (paused, timed pause,
 * "only when idle"). Pure decisions; the agent applies them to Docker.
 */
import type { AgentSettings } from '../contract/ui-contract';

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

/** Fraction of the host's cores jobs may use together, 0..1. */
export function cpuShare(settings: Pick<AgentSettings, 'cpuLimitPercent'>): number {
  return Math.min(100, Math.max(1, settings.cpuLimitPercent)) / 100;
}

/**
 * Limits for one container. The CPU limit is for all jobs together, so with N slots each job gets
 * 1/N of it; memory and disk caps are split the same way.
 */
export function containerLimits(
  settings: Pick<AgentSettings, 'cpuLimitPercent' | 'memoryLimitMb' | 'diskLimitMb' | 'jobSlots'>,
  hostCpuCount: number,
  pidsLimit = DEFAULT_PIDS_LIMIT,
): ContainerLimits {
  const slots = Math.max(1, Math.floor(settings.jobSlots));
  const cores = Math.max(1, hostCpuCount) * cpuShare(settings);
  // Docker wants at least 0.01 CPU; keep whole milli-cores.
  const nanoCpus = Math.max(10_000_000, Math.floor((cores / slots) * 1000) * 1_000_000);
  // Docker refuses less than 6 MB of memory.
  const memoryBytes = Math.max(6 * MB, Math.floor((settings.memoryLimitMb * MB) / slots));
  const diskBytes = Math.floor((settings.diskLimitMb * MB) / slots);
  return { nanoCpus, memoryBytes, memorySwapBytes: memoryBytes, pidsLimit, diskBytes };
}

/** Cores a job may use (for the host JDL), at least 1. */
export function allowedCores(
  settings: Pick<AgentSettings, 'cpuLimitPercent'>,
  hostCpuCount: number,
): number {
  return Math.max(1, Math.floor(Math.max(1, hostCpuCount) * cpuShare(settings)));
}

export type RunBlock = 'paused' | 'waiting-for-idle';

export type RunDecision = { run: true } | { run: false; reason: RunBlock };

export interface PolicyState {
  /** settings.paused: paused until resumed. */
  paused: boolean;
  /** A timed pause ("pause for N minutes") ends at this time (ms since epoch). */
  pausedUntil: number | null;
  runOnlyWhenIdle: boolean;
  idleMinutes: number;
  /** Seconds since the volunteer last used the machine; null when the host never said. */
  idleSeconds: number | null;
}

/** Whether jobs may run now. No idle report from the host means the machine counts as idle. */
export function decideRun(state: PolicyState, now: number): RunDecision {
  if (state.paused) return { run: false, reason: 'paused' };
  if (state.pausedUntil !== null && now < state.pausedUntil)
    return { run: false, reason: 'paused' };
  if (state.runOnlyWhenIdle && !isIdle(state)) return { run: false, reason: 'waiting-for-idle' };
  return { run: true };
}

export function isIdle(state: Pick<PolicyState, 'idleSeconds' | 'idleMinutes'>): boolean {
  return state.idleSeconds === null || state.idleSeconds >= state.idleMinutes * 60;
}

/** The live policy: settings plus the host's idle reports and timed pauses. */
export class ResourcePolicy {
  private settings: AgentSettings;
  private pausedUntilMs: number | null = null;
  private idleSecondsValue: number | null = null;

  constructor(settings: AgentSettings) {
    this.settings = settings;
  }

  update(settings: AgentSettings): void {
    // A timed pause is kept across unrelated settings changes.
    this.settings = settings;
  }

  reportIdleSeconds(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.idleSecondsValue = seconds;
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

  get idleSeconds(): number | null {
    return this.idleSecondsValue;
  }

  state(now: number): PolicyState {
    return {
      paused: this.settings.paused,
      pausedUntil: this.pausedUntil(now),
      runOnlyWhenIdle: this.settings.runOnlyWhenIdle,
      idleMinutes: this.settings.idleMinutes,
      idleSeconds: this.idleSecondsValue,
    };
  }

  decide(now: number): RunDecision {
    return decideRun(this.state(now), now);
  }

  limits(hostCpuCount: number): ContainerLimits {
    return containerLimits(this.settings, hostCpuCount);
  }
}
