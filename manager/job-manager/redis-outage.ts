/**
 * Turns ioredis's connection failures ("Reached the max retries per request limit", "Connection
 * is closed", ECONNREFUSED) into one clear JobQueueError naming the server. Requests that fail
 * this way are retried by the agents, whose messages the session acked but could not serve.
 */
import { JobQueueError, type JobQueue } from './job-queue';
import { errorMessage } from '@copilot/base/errors';

const CONNECTION_FAILURE =
  /max retries per request|connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|stream isn't writeable/i;

export function explainRedisError(server: string, error: unknown): unknown {
  const text = errorMessage(error);
  if (!CONNECTION_FAILURE.test(text)) return error;
  return new JobQueueError(
    `Redis at ${server} is unreachable (${text}); requests fail until it is back`,
  );
}

/** The same queue, with connection failures explained. */
export function withRedisOutagesExplained(queue: JobQueue, server: string): JobQueue {
  const explain = <T>(work: Promise<T>): Promise<T> =>
    work.catch((error: unknown) => {
      throw explainRedisError(server, error);
    });
  return {
    backend: queue.backend,
    add: (id, spec, now) => explain(queue.add(id, spec, now)),
    addMany: (jobs, now) => explain(queue.addMany(jobs, now)),
    get: (id) => explain(queue.get(id)),
    list: () => explain(queue.list()),
    queued: (limit) => explain(queue.queued(limit)),
    owners: () => explain(queue.owners()),
    countQueued: () => explain(queue.countQueued()),
    countActive: () => explain(queue.countActive()),
    countActiveOf: (account) => explain(queue.countActiveOf(account)),
    findByRequest: (requestKey) => explain(queue.findByRequest(requestKey)),
    transition: (id, condition, patch) => explain(queue.transition(id, condition, patch)),
    expiredLeases: (now) => explain(queue.expiredLeases(now)),
    close: () => queue.close(),
  };
}
