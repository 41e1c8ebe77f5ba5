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
import {
  describeOwnerContract,
  describeQueueContract,
  SPEC,
  type QueueFactory,
} from '@manager/test/support/queue-contract';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-sqlite-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;

const sqliteFactory: QueueFactory = {
  open: (policy) => {
    counter += 1;
    return Promise.resolve(
      new SqliteJobQueue(path.join(root, `q${counter}`, 'queue.sqlite'), policy),
    );
  },
  reopen: (queue: JobQueue) => {
    if (!(queue instanceof SqliteJobQueue)) throw new Error('not a SQLite queue');
    return Promise.resolve(new SqliteJobQueue(queue.file, queue.policy));
  },
};

describeQueueContract('SQLite (WAL)', sqliteFactory);
describeOwnerContract('SQLite (WAL)', sqliteFactory);

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

describe('SQLite queue made before the owner columns', () => {
  it('adds them from the records and counts queued and active jobs per owner', async () => {
    const file = path.join(root, 'old-owners', 'queue.sqlite');
    const first = new SqliteJobQueue(file);
    const [leased, queued, high] = await first.addMany([
      { id: newJobId(), spec: { ...SPEC, owner: 'old' } },
      { id: newJobId(), spec: { ...SPEC, owner: 'old' } },
      { id: newJobId(), spec: { ...SPEC, owner: 'old', priority: 4 } },
    ]);
    if (!leased || !queued || !high) throw new Error('no jobs');
    await first.transition(
      leased.id,
      { from: ['queued'] },
      { state: 'leased', agent: 'a@x/1', leaseId: newLeaseId(), leaseExpiresAt: Date.now() },
    );
    await first.close();
    // The file as an earlier version left it: no owner table, columns, index or triggers.
    const db = new Database(file);
    db.exec(`DROP TRIGGER jobs_owner_insert; DROP TRIGGER jobs_owner_update;
      DROP TRIGGER jobs_owner_delete; DROP TABLE owners; DROP INDEX jobs_owner_queue;
      ALTER TABLE jobs DROP COLUMN owner; ALTER TABLE jobs DROP COLUMN priority;`);
    db.close();
    const upgraded = new SqliteJobQueue(file);
    try {
      expect((await upgraded.owners()).map((o) => [o.owner, o.queued, o.active])).toEqual([
        ['old', 2, 1],
      ]);
      expect((await upgraded.queued(10)).map((job) => job.id)).toEqual([high.id, queued.id]);
    } finally {
      await upgraded.close();
    }
  });
});
