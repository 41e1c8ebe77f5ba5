import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@copilot/base/logger';
import { newJobId, newLeaseId } from '@manager/job-manager/job-record';
import { requeueExpiredLeases } from '@manager/job-manager/lease-reaper';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';
import type { JobQueue } from '@manager/job-manager/job-queue';
import { describeQueueContract, SPEC } from '@manager/test/support/queue-contract';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-sqlite-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;

describeQueueContract('SQLite (WAL)', {
  open: () => {
    counter += 1;
    return Promise.resolve(new SqliteJobQueue(path.join(root, `q${counter}`, 'queue.sqlite')));
  },
  reopen: (queue: JobQueue) => {
    if (!(queue instanceof SqliteJobQueue)) throw new Error('not a SQLite queue');
    return Promise.resolve(new SqliteJobQueue(queue.file));
  },
});

describe('lease reaper', () => {
  it('fails a job instead of requeueing it once it was leased maxAttempts times', async () => {
    const queue = new SqliteJobQueue(path.join(root, 'reaper', 'queue.sqlite'));
    try {
      const job = await queue.add(newJobId(), SPEC);
      const now = Date.now();
      const failed: string[] = [];
      for (let attempt = 1; attempt <= 2; attempt += 1) {
        const lease = await queue.transition(
          job.id,
          { from: ['queued'] },
          {
            state: 'leased',
            leaseId: newLeaseId(),
            leaseExpiresAt: now,
            attempts: attempt,
          },
        );
        expect(lease.ok).toBe(true);
        await requeueExpiredLeases(queue, silentLogger, now + 1, {
          maxAttempts: 2,
          onFailed: (gone) => failed.push(gone.id),
        });
      }
      expect(await queue.get(job.id)).toMatchObject({ state: 'failed', attempts: 2 });
      expect((await queue.get(job.id))?.note).toMatch(/given up after 2 attempts/);
      expect(failed).toEqual([job.id]);
      expect(await queue.countQueued()).toBe(0);
    } finally {
      await queue.close();
    }
  });
});

describe('SQLite queue made before the account column', () => {
  it('adds the column and counts the leases active at the upgrade', async () => {
    const file = path.join(root, 'old', 'queue.sqlite');
    const first = new SqliteJobQueue(file);
    const job = await first.add(newJobId(), SPEC);
    await first.transition(
      job.id,
      { from: ['queued'] },
      { state: 'leased', agent: 'Old@x/1', leaseId: newLeaseId(), leaseExpiresAt: Date.now() },
    );
    await first.close();
    // The file as an earlier version left it: no account column, no index on it.
    const db = new Database(file);
    db.exec('DROP INDEX jobs_account; ALTER TABLE jobs DROP COLUMN account');
    db.close();
    const upgraded = new SqliteJobQueue(file);
    try {
      expect(await upgraded.countActiveOf('old@x')).toBe(1);
    } finally {
      await upgraded.close();
    }
  });
});
