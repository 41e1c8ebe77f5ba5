/** Puts jobs whose lease expired back into the queue. Safe to run in several managers at once. */
import type { Logger } from '../../src/transport';
import { ACTIVE_STATES } from './job-record';
import type { JobQueue } from './job-queue';

export async function requeueExpiredLeases(
  queue: JobQueue,
  logger: Logger,
  now = Date.now(),
): Promise<string[]> {
  const requeued: string[] = [];
  for (const id of await queue.expiredLeases(now)) {
    const before = await queue.get(id);
    const result = await queue.transition(
      id,
      { from: ACTIVE_STATES, expiredBefore: now },
      {
        state: 'queued',
        agent: null,
        requestKey: null,
        leaseId: null,
        leaseExpiresAt: null,
        inputToken: null,
        outputToken: null,
        updatedAt: now,
        note: `lease of ${before?.agent ?? 'an agent'} expired in state ${before?.state ?? '?'}`,
      },
    );
    if (result.ok) {
      requeued.push(id);
      logger.info('lease expired; job back in the queue', { job: id, agent: before?.agent });
    }
  }
  return requeued;
}
