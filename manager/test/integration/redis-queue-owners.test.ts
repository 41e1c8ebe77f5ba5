/**
 * The Redis queue against a real redis-server: what only this backend can get wrong (ids in its
 * lists without a job hash).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '@test/harness';
import { newJobId } from '@manager/job-manager/job-record';
import { RedisJobQueue } from '@manager/job-manager/redis-job-queue';
import { SPEC } from '@manager/test/support/queue-contract';

let redis: RedisServer;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis({ host: '127.0.0.1', port: redis.port });
});

afterAll(async () => {
  await raw?.quit();
  await redis?.stop();
});

let counter = 0;
function openQueue(): RedisJobQueue {
  counter += 1;
  const namespace = `owners${process.pid}-${counter}:`;
  return new RedisJobQueue({
    server: `127.0.0.1:${redis.port}`,
    namespace,
    waitingList: `${namespace}waiting-jobs`,
  });
}

describe('Redis queue: stale ids', () => {
  it('a waiting-list id without a job record does not hide the jobs behind it', async () => {
    const queue = openQueue();
    try {
      const job = await queue.add(newJobId(), SPEC);
      // An id whose hash is gone (deleted by hand, or a half-applied older version).
      await raw.lpush(queue.options.waitingList ?? '', 'gone-1', 'gone-2');
      expect((await queue.queued(1)).map((j) => j.id)).toEqual([job.id]);
      expect((await queue.queued(16)).map((j) => j.id)).toEqual([job.id]);
    } finally {
      await queue.close();
    }
  });
});
