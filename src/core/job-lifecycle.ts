/**
 * One job from runJob to jobDone: download inputs, run, ask for an output directory
 * (want_getJobOutputDir → getJobOutputDir → storeJobOutputDir), upload `stdout`, `stderr` and the
 * files the job wrote to /work/output (over Chirp storage, the original agent's `<jobID>.tgz` of
 * them: output-bundle.ts), then jobDone. The job in hand is persisted at every step
 * (JobStore), and a finished job's result is retried until it is delivered or the agent stops;
 * the next agent start resumes it.
 *
 * The output directory and jobDone go to the manager that gave the job (its account); when it
 * does not answer, the output directory is asked of every configured manager (several managers
 * sharing one queue: the first that offers takes the result, and jobDone goes to it). Final
 * answers end the job at once, freeing its slot: a `jobRefused` from that manager (it was
 * cancelled, or its lease went to another agent), and storage refusals that retrying cannot
 * change (4xx other than 408 and 429).
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImagePullProgress, JobPhase, JobHistoryRecord } from '../contract/ui-contract';
import type { PinnedImage } from '../protocol/image-reference';
import { bareJid } from '../protocol/jid';
import { isSafeFileName } from '../protocol/job-fields';
import { backoffDelay, type BackoffOptions } from '../base/backoff';
import type { Logger } from '../base/logger';
import { CHECKPOINT_MOUNT, STATUS_MOUNT, type JobRunner, type RunOutcome } from './docker-runner';
import { PROGRESS_FILE_NAME } from './job-progress';
import { DockerUnavailableError } from './docker-socket';
import { inputFileNames, planJobCommand } from './job-command';
import type { JobInHand, JobPaths, JobResult, JobStore } from './job-store';
import type { ManagerExchange } from './manager-exchange';
import { outputUploads } from './output-bundle';
import type { MonitorReporter } from '../transport/monitor-reporter';
import type { ContainerLimits } from './resource-policy';
import type { SerialLock } from '../base/serial-lock';
import { TransferError, type StorageClient } from './storage-transfer';
import { errorMessage } from '../base/errors';
import type { JobImages } from './image-cache';
import { checkJobImage, IMAGE_REFUSED, ImageRefusedError } from './job-image';

export interface LifecycleDeps {
  exchange: ManagerExchange;
  runner: JobRunner;
  storage: StorageClient;
  store: JobStore;
  logger: Logger;
  monitor?: MonitorReporter;
  /** Serialises the want_* handshakes: have_getJobOutputDir names no job. */
  handshakeLock: SerialLock;
  agentHost: string;
  limits: () => ContainerLimits;
  /** Whether the policy lets jobs run right now (else the container starts frozen). */
  mayRun: () => boolean;
  /** The default image, for jobs that name none. */
  image: string;
  /** Pulls and keeps the images jobs name (runJob's `image`); absent: such jobs are refused. */
  images?: JobImages;
  /** The registries the project allows job images from (allowedImageRegistries); absent: none. */
  allowedImageRegistries?: () => readonly string[];
  wallClockLimitMs: number;
  /** The volunteer's consent, read when the job starts (settings change while it waits). */
  allowJobNetwork: () => boolean;
  replyTimeoutMs: number;
  /** How often a running job's lease is renewed with its manager (renewLease). */
  leaseRenewalMs: number;
  retry: BackoffOptions;
  /** Failed upload rounds before the job is reported 'upload-failed'. */
  maxUploadAttempts: number;
  /** How long a finished result waits for a manager to take it before it is dropped. */
  resultRetentionMs: number;
  /** 'running' also when the container is frozen: the agent owns paused (see onStarted). */
  onPhase: (jobId: string, phase: JobPhase) => void;
  /** The container started, frozen when `paused` (what the runner was told: RunSpec.startPaused). */
  onStarted: (jobId: string, startedAt: string, paused: boolean) => void;
  signal: AbortSignal;
}

/** Files uploaded besides the job's own outputs. */
export const LOG_FILES = ['stdout', 'stderr'] as const;

/**
 * The storage refuses our token: the manager gave the job to someone else (its lease ran out
 * while this agent was gone). The job is no longer ours; retrying would only hold a slot.
 */
function leaseLost(error: unknown): boolean {
  return error instanceof TransferError && (error.status === 403 || error.status === 409);
}

/** A storage refusal that the same request will meet again (413 too large, 404, 400...). */
function permanentRefusal(error: unknown): boolean {
  const status = error instanceof TransferError ? error.status : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** Tries of one input file while its storage is unreachable, before download-failed. */
const INPUT_DOWNLOAD_ATTEMPTS = 4;

/** How often pull progress reaches the UI (onPhase) at most. */
const PULL_PROGRESS_MS = 500;

/** The manager will not take this job from us any more (jobRefused). */
class JobRefusedError extends Error {}

function appendStderr(file: string, text: string): void {
  fs.appendFileSync(file, `copilot-agent: ${text}\n`);
}

export class JobLifecycle {
  private inHand: JobInHand;
  /** Aborted when the agent stops or the manager refuses the job. */
  private readonly refused = new AbortController();
  private readonly signal: AbortSignal;
  private refusal: string | undefined;
  /** Why the volunteer aborted the job (cancel), once they did. */
  private cancelled: string | undefined;
  /** While the job's own image is pulled. */
  private pulling: ImagePullProgress | undefined;

  constructor(
    private readonly deps: LifecycleDeps,
    inHand: JobInHand,
  ) {
    this.inHand = inHand;
    this.signal = AbortSignal.any([deps.signal, this.refused.signal]);
  }

  get jobId(): string {
    return this.inHand.job.id;
  }

  get state(): Readonly<JobInHand> {
    return this.inHand;
  }

  /** How much of the job's image has been pulled, while it is (phase 'pulling'). */
  get pullProgress(): ImagePullProgress | undefined {
    return this.pulling;
  }

  /** Runs to jobDone; throws only when the agent stops (the job stays persisted). */
  async run(): Promise<JobHistoryRecord> {
    const { store, exchange } = this.deps;
    store.save(this.inHand);
    const stopListening = exchange.onRefusal(this.jobId, (code, reason, from) => {
      if (!this.fromJobsManager(from)) return;
      this.refusal = `the manager refused the job (${code}): ${reason}`;
      this.refused.abort();
      // A job still running is stopped: nobody will take its result.
      void this.deps.runner.cleanup(this.jobId).catch(() => undefined);
    });
    if (this.inHand.output) exchange.trust.trustForJob(this.inHand.output.peer, this.jobId);
    try {
      await this.runPhases();
    } catch (error) {
      if (this.refusal === undefined || this.deps.signal.aborted) throw error;
      this.inHand.result ??= this.failure('aborted', this.refusal);
      this.abort(this.refusal);
    } finally {
      stopListening();
      exchange.trust.forgetJob(this.jobId);
      this.deps.images?.release(this.jobId);
    }
    const record = this.record();
    store.remove(this.jobId);
    return record;
  }

  /**
   * The volunteer aborts the job: its container is removed, no output is delivered, and its
   * manager gets a failed jobDone with state 'aborted'. A job already delivering its output is
   * not stopped (false).
   */
  cancel(reason: string): boolean {
    const { phase } = this.inHand;
    if (this.cancelled !== undefined || phase === 'finished' || phase === 'uploaded') return false;
    this.cancelled = reason;
    this.deps.logger.warn('job aborted', { jobId: this.jobId, reason });
    void this.deps.runner.cleanup(this.jobId).catch(() => undefined);
    return true;
  }

  get isCancelled(): boolean {
    return this.cancelled !== undefined;
  }

  private async runPhases(): Promise<void> {
    const { store } = this.deps;
    if (this.inHand.phase === 'received' || this.inHand.phase === 'running') {
      this.inHand.result = await this.execute();
      this.deps.images?.release(this.jobId);
      this.throwIfStopped();
      if (this.cancelled !== undefined) {
        const { cpuSeconds, startedAt } = this.inHand.result;
        this.inHand.result = { ...this.failure('aborted', this.cancelled), cpuSeconds, startedAt };
      }
      this.inHand.phase = 'finished';
      store.save(this.inHand);
    }
    if (this.inHand.phase === 'finished' && !this.aborted()) {
      await this.deliverOutputs();
      this.inHand.phase = 'uploaded';
      store.save(this.inHand);
    }
    // A job the volunteer aborted is reported (failed); one the manager dropped is not.
    if (!this.aborted() || this.cancelled !== undefined) await this.reportDone();
  }

  /** The manager that gave the job (any resource of its account), or its storage component. */
  private fromJobsManager(from: string): boolean {
    const account = bareJid(from).toLowerCase();
    const peers = [this.inHand.manager, this.inHand.output?.peer ?? ''];
    return peers.some((peer) => bareJid(peer).toLowerCase() === account);
  }

  /** Where want_getJobOutputDir and retried jobDones go: the account that gave the job. */
  private get managerAccount(): string {
    return bareJid(this.inHand.manager);
  }

  private aborted(): boolean {
    return this.inHand.result?.state === 'aborted';
  }

  private abort(error: string): void {
    const result = this.inHand.result as JobResult;
    result.state = 'aborted';
    result.error = error;
    this.deps.logger.warn('job dropped', { jobId: this.jobId, error });
  }

  private throwIfStopped(): void {
    if (this.deps.signal.aborted) throw new Error('agent stopping');
    if (this.refused.signal.aborted) throw new JobRefusedError(this.refusal);
  }

  private failure(state: JobResult['state'], error: string): JobResult {
    return {
      exitCode: -1,
      state,
      cpuSeconds: 0,
      startedAt: null,
      finishedAt: new Date().toISOString(),
      error,
    };
  }

  private record(): JobHistoryRecord {
    const result = this.inHand.result as JobResult;
    const started = result.startedAt ? Date.parse(result.startedAt) : NaN;
    const record: JobHistoryRecord = {
      jobId: this.jobId,
      manager: this.inHand.manager,
      command: this.inHand.job.command,
      state: result.state,
      exitCode: result.exitCode,
      receivedAt: this.inHand.receivedAt,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      cpuSeconds: result.cpuSeconds,
      wallSeconds: Number.isFinite(started)
        ? Math.max(0, (Date.parse(result.finishedAt) - started) / 1000)
        : 0,
    };
    record.network = result.network ?? false;
    if (result.error !== undefined) record.error = result.error;
    return record;
  }

  /**
   * Download and run; every failure becomes a result (with the reason in stderr). A job found
   * in phase 'running' was started by an earlier run of the agent: its container, if it is still
   * there (the agent stopped, the host did not), is adopted; if it is gone (host reboot), the job
   * starts again with its checkpoint dir and COPILOT_RESUMED=1.
   */
  private async execute(): Promise<JobResult> {
    const { deps } = this;
    const { job } = this.inHand;
    const paths = deps.store.paths(job.id);
    const failed = (state: JobResult['state'], error: string): JobResult => {
      appendStderr(paths.stderr, error);
      const what = state === 'aborted' ? 'job dropped' : 'job failed before it ran';
      deps.logger.warn(what, { jobId: job.id, state, error });
      return this.failure(state, error);
    };
    const resumed = this.inHand.phase === 'running';
    let pinned: PinnedImage | undefined;
    try {
      if (job.image !== undefined)
        pinned = checkJobImage(job.image, deps.allowedImageRegistries?.() ?? []);
    } catch (error) {
      // An earlier run's container (the allow list changed meanwhile) does not run on either.
      if (resumed) await deps.runner.cleanup(job.id).catch(() => undefined);
      return this.refuseImage(paths, error);
    }
    // Not knowing is no answer: clearing the work dir under a live container would break it, so
    // a failed look-up fails the lifecycle, and the job is taken up again once Docker answers.
    const adopt = resumed && (await deps.runner.hasContainer(job.id));
    let image = deps.image;
    if (pinned !== undefined) {
      const acquired = await this.acquireImage(pinned);
      if (typeof acquired !== 'string') return this.refuseImage(paths, acquired);
      image = acquired;
    }
    if (!adopt) {
      const failure = await this.prepare(paths, resumed);
      if (failure) return failed(failure.state, failure.error);
    }

    let plan;
    try {
      plan = planJobCommand(job, paths.input);
    } catch (error) {
      return failed('failed', `bad job description: ${errorMessage(error)}`);
    }
    const network = plan.wantsNetwork && deps.allowJobNetwork();
    if (plan.wantsNetwork && !network && !adopt) {
      appendStderr(paths.stderr, 'network access requested but not allowed on this host');
    }
    const env: Record<string, string> = {
      ...plan.env,
      COPILOT_CHECKPOINT_DIR: CHECKPOINT_MOUNT,
      COPILOT_PROGRESS_FILE: `${STATUS_MOUNT}/${PROGRESS_FILE_NAME}`,
    };
    if (resumed) env.COPILOT_RESUMED = '1';

    this.inHand.phase = 'running';
    deps.store.save(this.inHand);
    deps.onPhase(job.id, 'starting');
    if (!adopt) deps.monitor?.event('job.started');
    if (this.cancelled !== undefined) return failed('aborted', this.cancelled);
    const startPaused = !deps.mayRun();
    let outcome: RunOutcome;
    const stopRenewing = this.keepLease();
    try {
      outcome = await deps.runner.run(
        {
          jobId: job.id,
          image,
          argv: plan.argv,
          env,
          network,
          inputDir: paths.input,
          outputDir: paths.output,
          stdoutPath: paths.stdout,
          stderrPath: paths.stderr,
          checkpointDir: paths.checkpoint,
          statusDir: paths.status,
          jobRoot: paths.root,
          limits: deps.limits(),
          wallClockLimitMs: deps.wallClockLimitMs,
          validationArgv: plan.validationArgv,
          startPaused,
          adopt,
          signal: this.signal,
        },
        (_containerId, startedAt) => {
          deps.onStarted(job.id, startedAt, startPaused);
          deps.onPhase(job.id, 'running');
        },
      );
    } catch (error) {
      this.throwIfStopped();
      // Docker itself went away: not the job's fault. The job stays on disk in phase 'running'
      // and the agent runs it again later.
      if (error instanceof DockerUnavailableError) throw error;
      return failed('failed', `the container could not run: ${errorMessage(error)}`);
    } finally {
      stopRenewing();
    }
    this.throwIfStopped();
    return this.finish(outcome, network);
  }

  /**
   * The job's own image, pulled (phase 'pulling', progress in `pullProgress`) and checked against
   * its digest; the reason as an ImageRefusedError when it cannot be had. Docker going away and
   * the agent stopping are not the image's fault: they are thrown.
   */
  private async acquireImage(image: PinnedImage): Promise<string | ImageRefusedError> {
    const { deps } = this;
    if (deps.images === undefined) {
      return new ImageRefusedError('this agent cannot pull job images (no container engine)');
    }
    let told = 0;
    try {
      return await deps.images.acquire(
        this.jobId,
        image,
        (progress) => {
          const first = this.pulling === undefined;
          // The moment every byte is in is told too: a pull faster than the throttle shows it.
          const completed =
            progress.totalBytes !== null &&
            progress.currentBytes >= progress.totalBytes &&
            (this.pulling === undefined || this.pulling.currentBytes < progress.totalBytes);
          this.pulling = progress;
          if (first || completed || Date.now() - told >= PULL_PROGRESS_MS) {
            told = Date.now();
            deps.onPhase(this.jobId, 'pulling');
          }
        },
        this.signal,
      );
    } catch (error) {
      this.throwIfStopped();
      if (error instanceof DockerUnavailableError) throw error;
      return error instanceof ImageRefusedError
        ? error
        : new ImageRefusedError(errorMessage(error));
    } finally {
      this.pulling = undefined;
    }
  }

  /**
   * The job never runs: its image was refused. Its stdout stays empty and its stderr says why
   * (both are delivered), and the manager gets a failed jobDone with state 'image-refused'.
   */
  private refuseImage(paths: JobPaths, error: unknown): JobResult {
    const message = errorMessage(error);
    fs.mkdirSync(paths.root, { recursive: true });
    fs.writeFileSync(paths.stdout, '');
    fs.writeFileSync(paths.stderr, `copilot-agent: ${message}\n`);
    this.deps.logger.warn('job image refused; the job does not run', {
      jobId: this.jobId,
      error: message,
    });
    return this.failure(IMAGE_REFUSED, message);
  }

  /**
   * A clean work dir and the inputs, downloaded. An earlier attempt's container goes; a job
   * started afresh loses its checkpoint and status dirs too, one started again keeps them.
   */
  private async prepare(
    paths: JobPaths,
    resumed: boolean,
  ): Promise<{ state: JobResult['state']; error: string } | undefined> {
    const { deps } = this;
    const { job } = this.inHand;
    await deps.runner.cleanup(job.id).catch(() => undefined);
    const fresh = resumed ? [] : [paths.checkpoint, paths.status];
    for (const dir of [paths.input, paths.output, ...fresh]) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (const dir of [paths.input, paths.output, paths.checkpoint, paths.status]) {
      fs.mkdirSync(dir, { recursive: true });
      // The job runs as uid 1000, which may not be us.
      fs.chmodSync(dir, 0o777);
    }
    fs.writeFileSync(paths.stdout, '');
    fs.writeFileSync(paths.stderr, '');
    if (resumed) {
      const gone = 'the job container is gone; starting the job again from its checkpoint dir';
      appendStderr(paths.stderr, gone);
      deps.logger.info(gone, { jobId: job.id });
    }

    deps.onPhase(job.id, 'downloading');
    const downloadStarted = Date.now();
    try {
      let budget = deps.limits().diskBytes;
      for (const name of inputFileNames(job)) {
        budget -= await this.downloadInput(name, path.join(paths.input, name), budget);
      }
      deps.monitor?.duration('job.download', Date.now() - downloadStarted);
      return undefined;
    } catch (error) {
      this.throwIfStopped();
      if (leaseLost(error)) {
        return {
          state: 'aborted',
          error: `the manager no longer gives this job to us: ${errorMessage(error)}`,
        };
      }
      return { state: 'download-failed', error: `input download failed: ${errorMessage(error)}` };
    }
  }

  /**
   * One input file, tried again while the storage is unreachable or busy (a manager restarting):
   * a job that never ran because of a blip would otherwise go back to the queue.
   */
  private async downloadInput(name: string, destination: string, budget: number): Promise<number> {
    const { deps } = this;
    const { job } = this.inHand;
    for (let attempt = 1; ; attempt += 1) {
      this.throwIfStopped();
      try {
        return await deps.storage.download(job.chirpUrl, job.inputDir, name, destination, budget);
      } catch (error) {
        const transient = error instanceof TransferError && error.transient;
        if (!transient || attempt >= INPUT_DOWNLOAD_ATTEMPTS) throw error;
        deps.logger.info('input download failed; retrying', {
          jobId: this.jobId,
          file: name,
          attempt,
          error: errorMessage(error),
        });
        await this.pause(attempt - 1);
      }
    }
  }

  private finish(outcome: RunOutcome, network: boolean): JobResult {
    const { deps } = this;
    const paths = deps.store.paths(this.jobId);
    if (outcome.error !== undefined) appendStderr(paths.stderr, outcome.error);
    const started = Date.parse(outcome.startedAt);
    deps.monitor?.duration('job.duration', Date.parse(outcome.finishedAt) - started);
    deps.monitor?.event(outcome.state === 'done' ? 'job.succeeded' : 'job.failed');
    deps.logger.info('job finished', {
      jobId: this.jobId,
      state: outcome.state,
      exitCode: outcome.exitCode,
      cpuSeconds: Math.round(outcome.cpuSeconds * 100) / 100,
    });
    const result: JobResult = {
      exitCode: outcome.exitCode,
      state: outcome.state,
      cpuSeconds: outcome.cpuSeconds,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
      network,
    };
    if (outcome.error !== undefined) result.error = outcome.error;
    return result;
  }

  /**
   * While the container runs (also frozen: the agent is alive and keeps the job), tells the
   * job's manager every leaseRenewalMs that it still runs it, so a job longer than a lease is
   * not handed to a second agent. A manager that no longer gives us the job answers jobRefused.
   */
  private keepLease(): () => void {
    const { deps } = this;
    const timer = setInterval(() => {
      deps.exchange.channel.notify(
        this.managerAccount,
        this.withJmJobData({
          command: 'renewLease' as const,
          agentHost: deps.agentHost,
          jobID: this.jobId,
        }),
      );
    }, deps.leaseRenewalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async pause(attempt: number): Promise<void> {
    const delay = backoffDelay(attempt, this.deps.retry);
    await sleep(delay, undefined, { signal: this.signal });
  }

  private withJmJobData<T extends object>(command: T): T & { jmJobData?: string } {
    return this.inHand.jmJobData === undefined
      ? command
      : { ...command, jmJobData: this.inHand.jmJobData };
  }

  /** Output dir handshake, then uploads; retried until done, stopped, or out of attempts. */
  private async deliverOutputs(): Promise<void> {
    const { deps } = this;
    const paths = deps.store.paths(this.jobId);
    let uploadFailures = 0;
    // Counted from when the job finished, so that restarts of the agent do not extend it.
    const finishedAt = Date.parse((this.inHand.result as JobResult).finishedAt);
    const giveUpAt =
      (Number.isFinite(finishedAt) ? finishedAt : Date.now()) + deps.resultRetentionMs;
    for (let attempt = 0; ; attempt += 1) {
      this.throwIfStopped();
      deps.onPhase(this.jobId, 'uploading');
      const target = await deps.handshakeLock.run(() => this.requestOutputDir(attempt));
      if (!target) {
        if (Date.now() >= giveUpAt) {
          this.abort(
            `no manager took the result in ${Math.round(deps.resultRetentionMs / 60_000)} min`,
          );
          return;
        }
        deps.logger.info('no manager offered an output directory; retrying', {
          jobId: this.jobId,
          attempt,
        });
        await this.pause(attempt);
        continue;
      }
      this.inHand.output = target;
      deps.store.save(this.inHand);
      deps.exchange.trust.trustForJob(target.peer, this.jobId);
      const uploadStarted = Date.now();
      try {
        const uploads = await outputUploads(
          target,
          this.jobId,
          this.filesToUpload(paths),
          paths.root,
        );
        for (const [name, file] of uploads) {
          this.throwIfStopped();
          await deps.storage.upload(target.outputChirpUrl, target.outputDir, name, file);
        }
        deps.monitor?.duration('job.upload', Date.now() - uploadStarted);
        return;
      } catch (error) {
        this.throwIfStopped();
        if (leaseLost(error)) {
          this.abort(`the manager no longer takes this job's output: ${errorMessage(error)}`);
          return;
        }
        if (permanentRefusal(error)) {
          this.uploadFailed(error);
          return;
        }
        uploadFailures += 1;
        deps.logger.warn('upload failed', {
          jobId: this.jobId,
          attempt: uploadFailures,
          error: errorMessage(error),
        });
        if (uploadFailures >= deps.maxUploadAttempts) {
          this.uploadFailed(error);
          return;
        }
        await this.pause(attempt);
      }
    }
  }

  /** The result goes to the manager as upload-failed; jobDone still tells it. */
  private uploadFailed(error: unknown): void {
    const result = this.inHand.result as JobResult;
    result.state = 'upload-failed';
    result.error = `upload failed: ${errorMessage(error)}`;
    this.deps.logger.warn('output not delivered; reporting the job as upload-failed', {
      jobId: this.jobId,
      error: result.error,
    });
  }

  private filesToUpload(paths: {
    stdout: string;
    stderr: string;
    output: string;
  }): Array<[string, string]> {
    const files: Array<[string, string]> = [
      ['stdout', paths.stdout],
      ['stderr', paths.stderr],
    ];
    let names: string[] = [];
    try {
      names = fs.readdirSync(paths.output).sort();
    } catch {
      names = [];
    }
    for (const name of names) {
      const file = path.join(paths.output, name);
      const stat = fs.lstatSync(file);
      if (!stat.isFile()) {
        this.deps.logger.warn('output entry that is not a plain file skipped', {
          jobId: this.jobId,
          name,
        });
      } else if (!isSafeFileName(name) || (LOG_FILES as readonly string[]).includes(name)) {
        this.deps.logger.warn('output file with an unusable name skipped', {
          jobId: this.jobId,
          name,
        });
      } else files.push([name, file]);
    }
    return files;
  }

  /**
   * Who is asked for an output directory: the account that gave the job, and once it has let
   * a round go unanswered, every configured manager. Managers sharing the job's queue (Redis)
   * all answer for it, so a result does not wait for a manager that went down; one with a queue
   * of its own does not know the job, and only the job's manager's refusals count.
   */
  private outputDirPeers(attempt: number): string[] {
    const own = this.managerAccount;
    if (attempt === 0) return [own];
    const others = this.deps.exchange.trust.managers
      .map((address) => bareJid(address))
      .filter((account) => account.toLowerCase() !== own.toLowerCase());
    return [own, ...new Set(others)];
  }

  private async requestOutputDir(attempt: number): Promise<JobInHand['output'] | null> {
    const { deps } = this;
    const asked = this.outputDirPeers(attempt);
    const offers = deps.exchange.mailbox('have_getJobOutputDir', { peers: asked });
    let peer: string;
    try {
      for (const to of asked) {
        deps.exchange
          .send(
            to,
            this.withJmJobData({
              command: 'want_getJobOutputDir' as const,
              agentHost: deps.agentHost,
              jobID: this.jobId,
            }),
          )
          .catch((error: unknown) =>
            deps.logger.debug('want_getJobOutputDir not acknowledged', {
              to,
              error: errorMessage(error),
            }),
          );
      }
      const offer = await offers.next(deps.replyTimeoutMs, this.signal);
      this.throwIfStopped();
      if (!offer) return null;
      peer = offer.from;
    } finally {
      offers.close();
    }
    const replies = deps.exchange.mailbox('storeJobOutputDir', {
      peers: [peer],
      match: (command) => command.jobID === this.jobId,
    });
    try {
      await deps.exchange.send(
        peer,
        this.withJmJobData({
          command: 'getJobOutputDir' as const,
          agentHost: deps.agentHost,
          jobID: this.jobId,
        }),
      );
      const reply = await replies.next(deps.replyTimeoutMs, this.signal);
      this.throwIfStopped();
      if (!reply) return null;
      if (reply.command.jmJobData !== undefined) this.inHand.jmJobData = reply.command.jmJobData;
      return {
        peer: reply.from,
        outputChirpUrl: reply.command.outputChirpUrl,
        outputDir: reply.command.outputDir,
      };
    } catch (error) {
      if (error instanceof JobRefusedError) throw error;
      deps.logger.warn('getJobOutputDir failed', { jobId: this.jobId, error: errorMessage(error) });
      return null;
    } finally {
      replies.close();
    }
  }

  /** jobDone to whoever gave the output dir (else the job's manager), then to the manager's account. */
  private async reportDone(): Promise<void> {
    const { deps } = this;
    const result = this.inHand.result as JobResult;
    deps.onPhase(this.jobId, 'reporting');
    const command = this.withJmJobData({
      command: 'jobDone' as const,
      exitCode: result.exitCode,
      agentHost: deps.agentHost,
      state: result.state,
      jobID: this.jobId,
    });
    const direct = this.inHand.output?.peer ?? this.inHand.manager;
    for (let attempt = 0; ; attempt += 1) {
      this.throwIfStopped();
      const to = attempt % 2 === 0 ? direct : this.managerAccount;
      try {
        await deps.exchange.send(to, command);
        deps.logger.info('jobDone delivered', { jobId: this.jobId, to, state: result.state });
        return;
      } catch (error) {
        deps.logger.warn('jobDone not acknowledged; will retry', {
          jobId: this.jobId,
          to,
          error: errorMessage(error),
        });
        await this.pause(attempt);
      }
    }
  }
}
