/** Picks the queue backend from the configuration: Redis when JM_REDIS_SERVER is set. */
import type { JobQueue } from './job-queue';
import type { JobManagerConfig } from './manager-config';
import type { OwnerPolicy } from './owner-policy';
import { RedisJobQueue } from './redis-job-queue';
import { withRedisOutagesExplained } from './redis-outage';
import { SqliteJobQueue } from './sqlite-job-queue';

export type QueueConfig = Pick<JobManagerConfig, 'queueDb' | 'redisServer' | 'waitingJobsList'> & {
  /** Redis key namespace; tests use their own. */
  redisNamespace?: string;
  /** Fair share and quotas (JM_OWNER_*); the defaults when not given. */
  owners?: OwnerPolicy;
};

export async function openJobQueue(config: QueueConfig): Promise<JobQueue> {
  if (config.redisServer === undefined) return new SqliteJobQueue(config.queueDb, config.owners);
  const queue = new RedisJobQueue({
    server: config.redisServer,
    waitingList: config.waitingJobsList,
    namespace: config.redisNamespace,
    policy: config.owners,
  });
  try {
    await queue.ping();
  } catch (error) {
    await queue.close();
    throw error;
  }
  return withRedisOutagesExplained(queue, config.redisServer);
}
