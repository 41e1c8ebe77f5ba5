import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { SqliteJobQueue } from '../../src/sqlite-job-queue';
import type { JobQueue } from '../../src/job-queue';
import { describeQueueContract } from '../support/queue-contract';

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
