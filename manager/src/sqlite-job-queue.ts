/**
 * The embedded queue: one SQLite file in WAL mode (JM_QUEUE_DB, default
 * `<JM_STATE_DIR>/queue.sqlite`). Several processes on one machine (manager instances, the CLIs)
 * may open it at once; every transition runs in an IMMEDIATE transaction.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  applyPatch,
  assertJobId,
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
  type TransitionCondition,
  type TransitionResult,
} from './job-queue';

interface JobRow {
  data: string;
}

export class SqliteJobQueue implements JobQueue {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;

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
      CREATE INDEX IF NOT EXISTS jobs_request ON jobs (request_key);
      CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (lease_expires_at);
    `);
  }

  private read(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT data FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? parseRow(row) : undefined;
  }

  private write(record: JobRecord): void {
    this.db
      .prepare(
        'UPDATE jobs SET state = ?, lease_expires_at = ?, request_key = ?, data = ? WHERE id = ?',
      )
      .run(
        record.state,
        record.leaseExpiresAt ?? null,
        record.requestKey ?? null,
        JSON.stringify(recordToFields(record)),
        record.id,
      );
  }

  async add(id: string, spec: JobSpec, now = Date.now()): Promise<JobRecord> {
    assertJobId(id);
    validateJobSpec(spec);
    const insert = this.db.transaction((): JobRecord => {
      if (this.read(id)) throw new JobQueueError(`job ${id} already exists`);
      const max = this.db.prepare('SELECT MAX(seq) AS seq FROM jobs').get() as {
        seq: number | null;
      };
      const record: JobRecord = {
        ...spec,
        id,
        state: 'queued',
        seq: (max.seq ?? 0) + 1,
        submittedAt: now,
        updatedAt: now,
        attempts: 0,
      };
      this.db
        .prepare('INSERT INTO jobs (id, seq, state, data) VALUES (?, ?, ?, ?)')
        .run(id, record.seq, record.state, JSON.stringify(recordToFields(record)));
      return record;
    });
    return insert.immediate();
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.read(id);
  }

  async list(): Promise<JobRecord[]> {
    const rows = this.db.prepare('SELECT data FROM jobs ORDER BY seq').all() as JobRow[];
    return rows.map(parseRow);
  }

  async queued(limit: number): Promise<JobRecord[]> {
    const rows = this.db
      .prepare("SELECT data FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT ?")
      .all(limit) as JobRow[];
    return rows.map(parseRow);
  }

  async countActive(): Promise<number> {
    const row = this.db
      .prepare("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('leased', 'running', 'uploading')")
      .get() as { n: number };
    return row.n;
  }

  async countQueued(): Promise<number> {
    const row = this.db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'").get() as {
      n: number;
    };
    return row.n;
  }

  async findByRequest(requestKey: string): Promise<JobRecord | undefined> {
    const row = this.db
      .prepare('SELECT data FROM jobs WHERE request_key = ? ORDER BY seq DESC LIMIT 1')
      .get(requestKey) as JobRow | undefined;
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
    const rows = this.db
      .prepare(
        "SELECT id FROM jobs WHERE state IN ('leased', 'running', 'uploading') AND lease_expires_at <= ?",
      )
      .all(now) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function parseRow(row: JobRow): JobRecord {
  return recordFromFields(JSON.parse(row.data) as Record<string, string>);
}
