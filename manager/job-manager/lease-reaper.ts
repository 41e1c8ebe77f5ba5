/**
 * Puts jobs whose lease expired back into the queue, or fails them once they have been leased
 * `maxAttempts` times (JM_MAX_ATTEMPTS). Safe to run in several managers at once: each change is
 * a compare-and-set on "still active and still expired".
 */
import type { Logger } from '@copilot/base/logger';
import { ACTIVE_STATES, LEASE_RELEASED, type JobRecord } from './job-record';
import type { JobQueue } from './job-queue';

export interface ReaperOptions {
  maxAttempts?: number;
  /** Called for each job given up on (e.g. to report job.failed). */
  onFailed?: (job: JobRecord) => void;
  /** Called with the record as it was under the lease just taken away (e.g. to drop its dirs). */
  onReleased?: (before: JobRecord) => Promise<void>;
}

export async function requeueExpiredLeases(
  queue: JobQueue,
  logger: Logger,
  now = Date.now(),
  options: ReaperOptions = {},
): Promise<string[]> {
  const requeued: string[] = [];
  const maxAttempts = options.maxAttempts ?? Infinity;
  for (const id of await queue.expiredLeases(now)) {
    const before = await queue.get(id);
    if (!before) continue;
    const why = `lease of ${before.agent ?? 'an agent'} expired in state ${before.state}`;
    const common = { ...LEASE_RELEASED, updatedAt: now };
    const giveUp = before.attempts >= maxAttempts;
    const result = await queue.transition(
      id,
      { from: ACTIVE_STATES, expiredBefore: now },
      giveUp
        ? {
            ...common,
            state: 'failed',
            finishedAt: now,
            note: `${why}; given up after ${before.attempts} attempts`,
          }
        : { ...common, state: 'queued', note: why },
    );
    if (!result.ok) continue;
    await options.onReleased?.(before);
    if (giveUp) {
      logger.warn('lease expired too often; job failed', { job: id, attempts: before.attempts });
      options.onFailed?.(result.job);
    } else {
      requeued.push(id);
      logger.info('lease expired; job back in the queue', { job: id, agent: before.agent });
    }
  }
  return requeued;
}
