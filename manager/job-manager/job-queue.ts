/**
 * The job store shared by every manager instance and the CLIs. Two backends implement it:
 * SQLite (embedded, the default) and Redis (when JM_REDIS_SERVER is set). All state lives in
 * the store, so a manager that crashes and restarts loses nothing.
 *
 * Every change goes through `transition`, an atomic compare-and-set: it applies the patch only
 * when the job is in one of `from` states (and, when given, holds lease `leaseId`, or has a
 * lease that expired before `expiredBefore`). Several managers can therefore race for the same
 * job safely: exactly one `lease` wins.
 *
 * Queued jobs are handed out by fair share between owners (fair-share.ts): `queued` lists them
 * best owner first, and within an owner by priority (highest first), then submission order.
 * A lease (queued → leased, running or uploading) is refused with reason `quota` while the
 * job's owner holds JM_OWNER_MAX_RUNNING active jobs, checked in the same atomic step; `add` and
 * `addMany` refuse jobs past the owner's JM_OWNER_MAX_QUEUED (OwnerQuotaError).
 */
import {
  ACTIVE_STATES,
  type JobPatch,
  type JobRecord,
  type JobSpec,
  type JobState,
} from './job-record';
import type { OwnerStats } from './fair-share';
import { CopilotError } from '@copilot/base/errors';

export interface NewJob {
  id: string;
  spec: JobSpec;
}

export interface TransitionCondition {
  from: readonly JobState[];
  leaseId?: string;
  /** Only when the job's lease expired at or before this time (ms since epoch). */
  expiredBefore?: number;
}

export type TransitionResult =
  | { ok: true; job: JobRecord }
  | {
      ok: false;
      reason: 'missing' | 'state' | 'lease' | 'not-expired' | 'quota';
      job?: JobRecord;
    };

export interface JobQueue {
  readonly backend: 'sqlite' | 'redis';
  /** Stores a new job in state queued. The id must be new and valid. */
  add(id: string, spec: JobSpec, now?: number): Promise<JobRecord>;
  /**
   * Stores several new jobs, queued in the given order: all or none with SQLite (one
   * transaction); with Redis each job is one script, sent in one pipeline, and a failure names
   * the jobs not stored.
   */
  addMany(jobs: ReadonlyArray<NewJob>, now?: number): Promise<JobRecord[]>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Every job, in submission order. */
  list(): Promise<JobRecord[]>;
  /**
   * Queued jobs in the order they are handed out, at most `limit`: owners by fair share (those
   * at their running cap left out), each owner's jobs by priority, then seq. Fewer than `limit`
   * only when no more jobs may be handed out.
   */
  queued(limit: number): Promise<JobRecord[]>;
  /** Every owner the store knows, with its queued and active jobs and its usage. */
  owners(): Promise<OwnerStats[]>;
  countQueued(): Promise<number>;
  /** Jobs handed out and not finished: leased, running or uploading. */
  countActive(): Promise<number>;
  /** Active jobs (as countActive) whose agent belongs to `account` (a bare JID, lower-cased). */
  countActiveOf(account: string): Promise<number>;
  /** The job leased for this getJob request, if any. */
  findByRequest(requestKey: string): Promise<JobRecord | undefined>;
  transition(
    id: string,
    condition: TransitionCondition,
    patch: JobPatch,
  ): Promise<TransitionResult>;
  /** Jobs whose lease expired at or before `now` (candidates for requeueing). */
  expiredLeases(now: number): Promise<string[]>;
  close(): Promise<void>;
}

export class JobQueueError extends CopilotError {
  constructor(message: string) {
    super('JOB_QUEUE_FAILED', message);
    this.name = 'JobQueueError';
  }
}

/** Jobs refused because their owner would pass JM_OWNER_MAX_QUEUED. */
export class OwnerQuotaError extends JobQueueError {
  constructor(
    readonly owner: string,
    readonly queued: number,
    readonly adding: number,
    readonly cap: number,
  ) {
    super(
      `owner ${owner === '' ? '(none)' : owner} has ${queued} queued jobs; ${adding} more would pass its cap of ${cap} (JM_OWNER_MAX_QUEUED)`,
    );
    this.name = 'OwnerQuotaError';
  }
}

/** How many jobs of each owner a batch adds (owner "" for jobs without one). */
export function countByOwner(jobs: ReadonlyArray<NewJob>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { spec } of jobs)
    counts.set(spec.owner ?? '', (counts.get(spec.owner ?? '') ?? 0) + 1);
  return counts;
}

/**
 * False when the job's lease was renewed so lately that renewing it again would move its expiry
 * by less than a hundredth of the lease (at most a minute): the requests of one job's upload
 * (want_getJobOutputDir, the PUTs) come within milliseconds of each other, and each renewal is a
 * write to the store. A request that must change the job (a new state, a token) renews anyway.
 */
export function renewalDue(
  job: Pick<JobRecord, 'leaseExpiresAt'>,
  leaseMs: number,
  now = Date.now(),
): boolean {
  if (job.leaseExpiresAt === undefined) return true;
  return job.leaseExpiresAt < now + leaseMs - Math.min(leaseMs / 100, 60_000);
}

/**
 * Extends a job's lease by `leaseMs` from now, moving it on to `state` when given, if it still
 * holds lease `job.leaseId`. A job only moves forward: it becomes running from leased or
 * running, uploading from any active state.
 */
export function renewLease(
  queue: JobQueue,
  job: Pick<JobRecord, 'id' | 'leaseId'>,
  leaseMs: number,
  state?: 'running' | 'uploading',
  extra: JobPatch = {},
): Promise<TransitionResult> {
  const now = Date.now();
  return queue.transition(
    job.id,
    { from: state === 'running' ? ['leased', 'running'] : ACTIVE_STATES, leaseId: job.leaseId },
    { ...extra, ...(state ? { state } : {}), leaseExpiresAt: now + leaseMs, updatedAt: now },
  );
}
