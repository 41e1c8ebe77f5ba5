/** Picks the queue backend from the configuration: Redis when JM_REDIS_SERVER is set. */
import type { JobQueue } from './job-queue';
import type { JobManagerConfig } from './manager-config';
import { RedisJobQueue } from './redis-job-queue';
import { withRedisOutagesExplained } from './redis-outage';
import { SqliteJobQueue } from './sqlite-job-queue';

export type QueueConfig = Pick<JobManagerConfig, 'queueDb' | 'redisServer' | 'waitingJobsList'> & {
  /** Redis key namespace; tests use their own. */
  redisNamespace?: string;
};

export async function openJobQueue(config: QueueConfig): Promise<JobQueue> {
  if (config.redisServer === undefined) return new SqliteJobQueue(config.queueDb);
  const queue = new RedisJobQueue({
    server: config.redisServer,
    waitingList: config.waitingJobsList,
    namespace: config.redisNamespace,
  });
  try {
    await queue.ping();
  } catch (error) {
    await queue.close();
    throw error;
  }
  return withRedisOutagesExplained(queue, config.redisServer);
}
