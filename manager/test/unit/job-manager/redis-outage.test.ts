import { describe, expect, it } from 'vitest';
import { JobQueueError } from '@manager/job-manager/job-queue';
import { explainRedisError } from '@manager/job-manager/redis-outage';

describe('Redis outage errors', () => {
  it('names the server for connection failures', () => {
    const error = explainRedisError(
      'redis://127.0.0.1:6390',
      new Error(
        'Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.',
      ),
    );
    expect(error).toBeInstanceOf(JobQueueError);
    expect((error as Error).message).toMatch(
      /^Redis at redis:\/\/127\.0\.0\.1:6390 is unreachable/,
    );
    expect(
      (explainRedisError('h:1', new Error('connect ECONNREFUSED 127.0.0.1:1')) as Error).message,
    ).toMatch(/is unreachable/);
  });

  it('leaves other errors as they are', () => {
    const original = new Error('ERR wrong number of arguments');
    expect(explainRedisError('h:1', original)).toBe(original);
  });
});
