/**
 * The embedded queue: one SQLite file in WAL mode (JM_QUEUE_DB, default
 * `<JM_STATE_DIR>/queue.sqlite`). Several processes on one machine (manager instances, the CLIs)
 * may open it at once; every transition runs in an IMMEDIATE transaction.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { accountOf, assertValidJobId } from '@copilot/protocol';
import {
  ACTIVE_STATES,
  applyPatch,
  recordFromFields,
  recordToFields,
  validateJobSpec,
  type JobPatch,
  type JobRecord,
  type JobSpec,
} from './job-record';
import {
  JobQueueError,
  type JobQueue,
  type NewJob,
  type TransitionCondition,
  type TransitionResult,
} from './job-queue';

interface JobRow {
  data: string;
}

const ACTIVE_SQL = "state IN ('leased', 'running', 'uploading')";

/** Every statement the queue runs, compiled once per connection (they run on every request). */
function prepareStatements(db: Database.Database) {
  return {
    read: db.prepare<[string], JobRow>('SELECT data FROM jobs WHERE id = ?'),
    write: db.prepare<[string, number | null, string | null, string | null, string, string]>(
      'UPDATE jobs SET state = ?, lease_expires_at = ?, request_key = ?, account = ?, data = ? WHERE id = ?',
    ),
    maxSeq: db.prepare<[], { seq: number | null }>('SELECT MAX(seq) AS seq FROM jobs'),
    insert: db.prepare<[string, number, string, string]>(
      'INSERT INTO jobs (id, seq, state, data) VALUES (?, ?, ?, ?)',
    ),
    list: db.prepare<[], JobRow>('SELECT data FROM jobs ORDER BY seq'),
    queued: db.prepare<[number], JobRow>(
      "SELECT data FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT ?",
    ),
    countActive: db.prepare<[], { n: number }>(
      `SELECT COUNT(*) AS n FROM jobs WHERE ${ACTIVE_SQL}`,
    ),
    countActiveOf: db.prepare<[string], { n: number }>(
      `SELECT COUNT(*) AS n FROM jobs WHERE account = ? AND ${ACTIVE_SQL}`,
    ),
    countQueued: db.prepare<[], { n: number }>(
      "SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'",
    ),
    byRequest: db.prepare<[string], JobRow>(
      'SELECT data FROM jobs WHERE request_key = ? ORDER BY seq DESC LIMIT 1',
    ),
    expired: db.prepare<[number], { id: string }>(
      `SELECT id FROM jobs WHERE ${ACTIVE_SQL} AND lease_expires_at <= ?`,
    ),
  };
}

export class SqliteJobQueue implements JobQueue {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly sql: ReturnType<typeof prepareStatements>;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        lease_expires_at INTEGER,
        request_key TEXT,
        data TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS jobs_state_seq ON jobs (state, seq);
      CREATE INDEX IF NOT EXISTS jobs_seq ON jobs (seq);
      CREATE INDEX IF NOT EXISTS jobs_request ON jobs (request_key);
      CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (lease_expires_at);
    `);
    addAccountColumn(this.db);
    this.sql = prepareStatements(this.db);
  }

  private read(id: string): JobRecord | undefined {
    const row = this.sql.read.get(id);
    return row ? parseRow(row) : undefined;
  }

  private write(record: JobRecord): void {
    this.sql.write.run(
      record.state,
      record.leaseExpiresAt ?? null,
      record.requestKey ?? null,
      activeAccount(record),
      JSON.stringify(recordToFields(record)),
      record.id,
    );
  }

  async add(id: string, spec: JobSpec, now = Date.now()): Promise<JobRecord> {
    const [record] = await this.addMany([{ id, spec }], now);
    if (!record) throw new JobQueueError(`job ${id} was not stored`);
    return record;
  }

  async addMany(jobs: ReadonlyArray<NewJob>, now = Date.now()): Promise<JobRecord[]> {
    for (const { id, spec } of jobs) {
      assertValidJobId(id);
      validateJobSpec(spec);
    }
    const insert = this.db.transaction((): JobRecord[] => {
      let seq = this.sql.maxSeq.get()?.seq ?? 0;
      return jobs.map(({ id, spec }) => {
        if (this.read(id)) throw new JobQueueError(`job ${id} already exists`);
        seq += 1;
        const record: JobRecord = {
          ...spec,
          id,
          state: 'queued',
          seq,
          submittedAt: now,
          updatedAt: now,
          attempts: 0,
        };
        this.sql.insert.run(id, seq, record.state, JSON.stringify(recordToFields(record)));
        return record;
      });
    });
    return insert.immediate();
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.read(id);
  }

  async list(): Promise<JobRecord[]> {
    return this.sql.list.all().map(parseRow);
  }

  async queued(limit: number): Promise<JobRecord[]> {
    return this.sql.queued.all(limit).map(parseRow);
  }

  async countActive(): Promise<number> {
    return this.sql.countActive.get()?.n ?? 0;
  }

  async countActiveOf(account: string): Promise<number> {
    return this.sql.countActiveOf.get(account)?.n ?? 0;
  }

  async countQueued(): Promise<number> {
    return this.sql.countQueued.get()?.n ?? 0;
  }

  async findByRequest(requestKey: string): Promise<JobRecord | undefined> {
    const row = this.sql.byRequest.get(requestKey);
    return row ? parseRow(row) : undefined;
  }

  async transition(
    id: string,
    condition: TransitionCondition,
    patch: JobPatch,
  ): Promise<TransitionResult> {
    const run = this.db.transaction((): TransitionResult => {
      const job = this.read(id);
      if (!job) return { ok: false, reason: 'missing' };
      if (!condition.from.includes(job.state)) return { ok: false, reason: 'state', job };
      if (condition.leaseId !== undefined && job.leaseId !== condition.leaseId) {
        return { ok: false, reason: 'lease', job };
      }
      if (
        condition.expiredBefore !== undefined &&
        (job.leaseExpiresAt === undefined || job.leaseExpiresAt > condition.expiredBefore)
      ) {
        return { ok: false, reason: 'not-expired', job };
      }
      const updated = applyPatch(job, patch);
      this.write(updated);
      return { ok: true, job: updated };
    });
    return run.immediate();
  }

  async expiredLeases(now: number): Promise<string[]> {
    return this.sql.expired.all(now).map((row) => row.id);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** The account holding an active job's lease (the agent's bare JID, lower-cased), else null. */
function activeAccount(record: JobRecord): string | null {
  return ACTIVE_STATES.includes(record.state) && record.agent !== undefined
    ? accountOf(record.agent)
    : null;
}

/**
 * The `account` column (leases per account, JM_MAX_LEASES_PER_AGENT) and its index, added to a
 * queue file made before it existed, and filled in for the jobs active then.
 */
function addAccountColumn(db: Database.Database): void {
  // Checked inside the transaction: two processes opening an old file at once add it once.
  db.transaction(() => {
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(jobs)').all();
    if (columns.some((column) => column.name === 'account')) return;
    db.exec('ALTER TABLE jobs ADD COLUMN account TEXT');
    const active = db
      .prepare<[], JobRow & { id: string }>(`SELECT id, data FROM jobs WHERE ${ACTIVE_SQL}`)
      .all();
    const set = db.prepare<[string | null, string]>('UPDATE jobs SET account = ? WHERE id = ?');
    for (const row of active) set.run(activeAccount(parseRow(row)), row.id);
  }).immediate();
  db.exec('CREATE INDEX IF NOT EXISTS jobs_account ON jobs (account, state)');
}

function parseRow(row: JobRow): JobRecord {
  return recordFromFields(JSON.parse(row.data) as Record<string, string>);
}
