/**
 * The jobs the agent holds, one JobLifecycle each: started for new work and for jobs left on
 * disk by an earlier run, frozen and thawed as the resource policy says, their container limits
 * kept to the settings, and each ending in the job history. A lifecycle that fails (mostly Docker
 * gone) leaves its job on disk, and it is taken up again once Docker answers.
 */
import type { JobPhase, JobHistoryRecord, RunningJob } from '../contract/ui-contract';
import type { Logger } from '../base/logger';
import type { JobRunner } from './docker-runner';
import type { JobHistory } from './job-history';
import { JobLifecycle, type LifecycleDeps } from './job-lifecycle';
import type { JobInHand, JobStore } from './job-store';
import type { ContainerLimits } from './resource-policy';
import { estimateRemainingMs, ProgressReader } from './job-progress';
import { ABORTED_BY_VOLUNTEER } from './agent-notifier';
import { withTimeout } from '../base/with-timeout';
import { errorMessage } from '../base/errors';

/** What a lifecycle needs besides its own callbacks and the stop signal. */
export type SharedLifecycleDeps = Omit<LifecycleDeps, 'onPhase' | 'onStarted' | 'signal'>;

const RETRY_FAILED_LIFECYCLE_MS = 30_000;

export interface JobSlotsOptions {
  lifecycle: SharedLifecycleDeps;
  runner: JobRunner;
  store: JobStore;
  history: JobHistory;
  logger: Logger;
  wallClockLimitMs: number;
  /** Whether the policy lets jobs run now; otherwise they are frozen. */
  mayRun: () => boolean;
  limits: () => ContainerLimits;
  dockerAvailable: () => boolean;
  stopped: () => boolean;
  /** A lifecycle failed: ask Docker now, before the freed slot fetches more work. */
  onLifecycleFailure: () => void;
  onChange: () => void;
  /** A slot is free again. */
  onFreed: () => void;
  onJobDone: (record: JobHistoryRecord) => void;
}

interface JobEntry {
  lifecycle: JobLifecycle;
  phase: JobPhase;
  receivedAt: string;
  startedAt: string | null;
  frozen: boolean;
  /** The volunteer suspended this job (suspend): frozen whatever the policy says. */
  held: boolean;
}

export class JobSlots {
  private readonly jobs = new Map<string, JobEntry>();
  private readonly settling = new Set<Promise<void>>();
  private abort = new AbortController();
  private readonly progress = new ProgressReader();

  constructor(private readonly options: JobSlotsOptions) {}

  get size(): number {
    return this.jobs.size;
  }

  holds(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  /** A fresh stop signal for the lifecycles started from now on (agent start). */
  open(): void {
    this.abort = new AbortController();
  }

  /**
   * Stops every lifecycle; their jobs stay on disk and their containers keep running (frozen
   * ones stay frozen), to be adopted by the next start. `kill` (an explicit abort) kills them.
   */
  async close(options: { kill?: boolean } = {}): Promise<void> {
    this.abort.abort();
    if (options.kill === true) await this.options.runner.killAll().catch(() => undefined);
  }

  async settled(): Promise<void> {
    await withTimeout(Promise.allSettled([...this.settling]), 15_000, 'jobs still settling').catch(
      () => undefined,
    );
  }

  running(now: number): RunningJob[] {
    const { runner, wallClockLimitMs, store } = this.options;
    return [...this.jobs.values()].map((entry) => {
      const state = entry.lifecycle.state;
      const since = Date.parse(entry.startedAt ?? entry.receivedAt);
      const elapsedMs = Math.max(0, now - since);
      const progress =
        entry.phase === 'running' || entry.phase === 'paused'
          ? this.progress.read(state.job.id, store.paths(state.job.id).status, now)
          : null;
      const job: RunningJob = {
        jobId: state.job.id,
        manager: state.manager,
        command: state.job.command,
        phase: entry.phase,
        receivedAt: entry.receivedAt,
        startedAt: entry.startedAt,
        elapsedMs,
        wallClockLimitMs,
        cpuSeconds: runner.cpuSeconds(state.job.id),
        progress,
        etaMs: estimateRemainingMs(progress, elapsedMs),
      };
      const pull = entry.lifecycle.pullProgress;
      if (pull !== undefined) job.pull = pull;
      return job;
    });
  }

  /** Freezes or thaws running containers as the policy now says. */
  applyPolicy(): void {
    const { runner, logger } = this.options;
    const run = this.options.mayRun();
    for (const [jobId, entry] of this.jobs) {
      if (entry.phase !== 'running' && entry.phase !== 'paused') continue;
      const freeze = !run || entry.held;
      if (freeze && !entry.frozen) {
        entry.frozen = true;
        entry.phase = 'paused';
        logger.info('pausing the running job', { jobId });
        runner.pause(jobId).catch((error: unknown) => {
          logger.warn('could not pause the job', { jobId, error: errorMessage(error) });
        });
      } else if (!freeze && entry.frozen) {
        entry.frozen = false;
        entry.phase = 'running';
        logger.info('resuming the job', { jobId });
        runner.resume(jobId).catch((error: unknown) => {
          logger.warn('could not resume the job', { jobId, error: errorMessage(error) });
        });
      }
    }
  }

  /** The volunteer suspends one job until resumeJob; false if no such job. */
  suspend(jobId: string): boolean {
    const entry = this.jobs.get(jobId);
    if (!entry) return false;
    if (!entry.held) this.options.logger.info('job suspended by the volunteer', { jobId });
    entry.held = true;
    this.applyPolicy();
    this.options.onChange();
    return true;
  }

  /** Lifts the volunteer's suspension (the policy may still keep the job frozen). */
  resumeJob(jobId: string): boolean {
    const entry = this.jobs.get(jobId);
    if (!entry) return false;
    if (entry.held) this.options.logger.info('job resumed by the volunteer', { jobId });
    entry.held = false;
    this.applyPolicy();
    this.options.onChange();
    return true;
  }

  /**
   * The volunteer aborts one job: its container is removed and its manager gets a failed
   * jobDone (state aborted); it then leaves the slots and goes to the history. False if there is
   * no such job, or it is already delivering its output.
   */
  abortJob(jobId: string): boolean {
    const entry = this.jobs.get(jobId);
    if (!entry) return false;
    return entry.lifecycle.cancel(ABORTED_BY_VOLUNTEER);
  }

  /** The jobs the volunteer suspended. */
  suspended(): string[] {
    return [...this.jobs].filter(([, entry]) => entry.held).map(([jobId]) => jobId);
  }

  applyLimits(): void {
    const limits = this.options.limits();
    for (const jobId of this.jobs.keys()) {
      this.options.runner.update(jobId, limits).catch((error: unknown) => {
        this.options.logger.debug('could not update the job container limits', {
          jobId,
          error: errorMessage(error),
        });
      });
    }
  }

  /** Takes up jobs an earlier run left on disk. */
  resume(stored: readonly JobInHand[]): void {
    for (const inHand of stored) {
      if (this.jobs.has(inHand.job.id)) continue;
      this.options.logger.info('resuming a job in hand from an earlier run', {
        jobId: inHand.job.id,
        phase: inHand.phase,
      });
      this.start(inHand);
    }
  }

  start(inHand: JobInHand): void {
    const signal = this.abort.signal;
    const jobId = inHand.job.id;
    const lifecycle = new JobLifecycle(
      {
        ...this.options.lifecycle,
        onPhase: (id, phase) => this.onPhase(id, phase),
        onStarted: (id, startedAt, paused) => this.onStarted(id, startedAt, paused),
        signal,
      },
      inHand,
    );
    const delivering = inHand.phase === 'finished' || inHand.phase === 'uploaded';
    this.jobs.set(jobId, {
      lifecycle,
      phase: delivering ? 'uploading' : 'fetching',
      receivedAt: inHand.receivedAt,
      startedAt: inHand.result?.startedAt ?? null,
      frozen: false,
      held: false,
    });
    this.options.onChange();
    const done = lifecycle
      .run()
      .then((record) => this.finished(record))
      .catch((error: unknown) => this.failed(inHand, lifecycle, signal, error))
      .finally(() => {
        this.jobs.delete(jobId);
        this.progress.forget(jobId);
        this.settling.delete(done);
        this.options.onChange();
        this.options.onFreed();
      });
    this.settling.add(done);
  }

  private onPhase(jobId: string, phase: JobPhase): void {
    const entry = this.jobs.get(jobId);
    if (!entry) return;
    entry.phase = phase === 'running' && entry.frozen ? 'paused' : phase;
    this.options.onChange();
  }

  private onStarted(jobId: string, startedAt: string, paused: boolean): void {
    const entry = this.jobs.get(jobId);
    if (!entry) return;
    entry.startedAt = startedAt;
    // What the runner was told when it made the container; the policy may have changed since,
    // and applying it now reaches the runner before it freezes the container.
    entry.frozen = paused;
    entry.phase = paused ? 'paused' : 'running';
    this.options.logger.info('job started', { jobId, frozen: paused });
    // Aborted while its container was being made: the first removal may have missed it.
    if (entry.lifecycle.isCancelled) void this.options.runner.cleanup(jobId).catch(() => undefined);
    this.applyPolicy();
  }

  private finished(record: JobHistoryRecord): void {
    this.options.history.append(record);
    this.options.logger.info('job complete', {
      jobId: record.jobId,
      state: record.state,
      exitCode: record.exitCode,
    });
    this.options.onJobDone(record);
  }

  private failed(
    inHand: JobInHand,
    lifecycle: JobLifecycle,
    signal: AbortSignal,
    error: unknown,
  ): void {
    const { logger } = this.options;
    const jobId = inHand.job.id;
    if (signal.aborted) {
      logger.info('job left for the next start', { jobId, phase: lifecycle.state.phase });
      return;
    }
    logger.error('job lifecycle failed; it stays on disk and is retried', {
      jobId,
      error: errorMessage(error),
    });
    this.options.onLifecycleFailure();
    setTimeout(() => this.retry(jobId), RETRY_FAILED_LIFECYCLE_MS).unref();
  }

  private retry(jobId: string): void {
    const { store } = this.options;
    if (this.options.stopped() || this.jobs.has(jobId) || !store.exists(jobId)) return;
    if (!this.options.dockerAvailable()) {
      setTimeout(() => this.retry(jobId), RETRY_FAILED_LIFECYCLE_MS).unref();
      return;
    }
    const stored = store.load(jobId, (id, error) => this.reportUnreadable(id, error));
    if (stored) this.resume([stored]);
  }

  reportUnreadable(jobId: string, error: Error): void {
    this.options.logger.error('unreadable job state file; job cannot be resumed', {
      jobId,
      error: error.message,
    });
  }
}
