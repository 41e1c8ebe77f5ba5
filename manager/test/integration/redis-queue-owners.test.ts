/**
 * The Redis queue against a real redis-server: what only this backend can get wrong (ids in its
 * lists without a job hash).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '@test/harness';
import { newJobId } from '@manager/job-manager/job-record';
import { RedisJobQueue } from '@manager/job-manager/redis-job-queue';
import type { JobQueue } from '@manager/job-manager/job-queue';
import type { OwnerPolicy } from '@manager/job-manager/owner-policy';
import { describeOwnerContract, SPEC } from '@manager/test/support/queue-contract';

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
function openQueue(policy?: OwnerPolicy): RedisJobQueue {
  counter += 1;
  const namespace = `owners${process.pid}-${counter}:`;
  return new RedisJobQueue({
    server: `127.0.0.1:${redis.port}`,
    namespace,
    waitingList: `${namespace}waiting-jobs`,
    policy,
  });
}

describeOwnerContract('Redis', {
  open: (policy) => Promise.resolve(openQueue(policy)),
  reopen: (queue: JobQueue) => {
    if (!(queue instanceof RedisJobQueue)) throw new Error('not a Redis queue');
    return Promise.resolve(new RedisJobQueue(queue.options));
  },
});

describe('Redis queue: stale ids', () => {
  it('a waiting-list id without a job record does not hide the jobs behind it', async () => {
    const queue = openQueue();
    try {
      const job = await queue.add(newJobId(), SPEC);
      // An id whose hash is gone (deleted by hand, or a half-applied older version).
      await raw.lpush(queue.options.waitingList ?? '', 'gone-1', 'gone-2');
      expect((await queue.queued(1)).map((j) => j.id)).toEqual([job.id]);
      expect((await queue.queued(16)).map((j) => j.id)).toEqual([job.id]);
      // The same in the owner's sorted set the jobs are handed out from.
      await raw.zadd(`${queue.options.namespace ?? ''}owner-jobs:`, 0, 'gone-3');
      const second = await queue.add(newJobId(), SPEC);
      expect((await queue.queued(1)).map((j) => j.id)).toEqual([job.id]);
      expect((await queue.queued(2)).map((j) => j.id)).toEqual([job.id, second.id]);
    } finally {
      await queue.close();
    }
  });
});

describe('Redis queue made before the owner keys', () => {
  it('builds them once from the waiting list and the leases, then hands out by owner', async () => {
    const first = openQueue();
    const ns = first.options.namespace ?? '';
    try {
      const [leased, queued] = await first.addMany([
        { id: newJobId(), spec: { ...SPEC, owner: 'old' } },
        { id: newJobId(), spec: { ...SPEC, owner: 'old', priority: 3 } },
      ]);
      if (!leased || !queued) throw new Error('no jobs');
      await first.transition(
        leased.id,
        { from: ['queued'] },
        { state: 'leased', agent: 'a@x/1', leaseExpiresAt: Date.now() + 60_000 },
      );
      // The store as an earlier version left it: only the waiting list, hashes and leases.
      const ownerKeys = await raw.keys(`${ns}owner*`);
      expect(ownerKeys.length).toBeGreaterThan(0);
      await raw.del(...ownerKeys);
      const again = new RedisJobQueue(first.options);
      try {
        expect((await again.queued(10)).map((job) => job.id)).toEqual([queued.id]);
        expect(
          (await again.owners()).map((entry) => [entry.owner, entry.queued, entry.active]),
        ).toEqual([['old', 1, 1]]);
        // Built once: a second handle does not count the active job again.
        const third = new RedisJobQueue(first.options);
        expect((await third.owners())[0]?.active).toBe(1);
        await third.close();
      } finally {
        await again.close();
      }
    } finally {
      await first.close();
    }
  });
});
