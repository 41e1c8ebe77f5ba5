/**
 * The job store shared by every manager instance and the CLIs. Two backends implement it:
 * SQLite (embedded, the default) and Redis (when JM_REDIS_SERVER is set). All state lives in
 * the store, so a manager that crashes and restarts loses nothing.
 *
 * Every change goes through `transition`, an atomic compare-and-set: it applies the patch only
 * when the job is in one of `from` states (and, when given, holds lease `leaseId`, or has a
 * lease that expired before `expiredBefore`). Several managers can therefore race for the same
 * job safely: exactly one `lease` wins.
 */
import {
  ACTIVE_STATES,
  type JobPatch,
  type JobRecord,
  type JobSpec,
  type JobState,
} from './job-record';
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
  | { ok: false; reason: 'missing' | 'state' | 'lease' | 'not-expired'; job?: JobRecord };

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
  /** Queued jobs in the order they are handed out (lowest seq first), at most `limit`. */
  queued(limit: number): Promise<JobRecord[]>;
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
