/**
 * The embedded queue: one SQLite file in WAL mode (JM_QUEUE_DB, default
 * `<JM_STATE_DIR>/queue.sqlite`). Several processes on one machine (manager instances, the CLIs)
 * may open it at once; every transition runs in an IMMEDIATE transaction.
 *
 * Fair share: the `owner` and `priority` columns of `jobs`, and the table `owners` (queued and
 * active jobs per owner, kept by triggers on `jobs`, and the decayed lease count `usage` as of
 * `usage_at`, raised by each lease in the lease's transaction).
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
import { rankOwners, usageAfterLease, type OwnerStats } from './fair-share';
import { DEFAULT_OWNER_POLICY, valueFor, type OwnerPolicy } from './owner-policy';
import {
  countByOwner,
  JobQueueError,
  OwnerQuotaError,
  type JobQueue,
  type NewJob,
  type TransitionCondition,
  type TransitionResult,
} from './job-queue';

interface JobRow {
  data: string;
}

interface OwnerRow {
  owner: string;
  queued: number;
  active: number;
  usage: number;
  usage_at: number;
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
    insert: db.prepare<[string, number, string, string, string, number]>(
      'INSERT INTO jobs (id, seq, state, data, owner, priority) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    list: db.prepare<[], JobRow>('SELECT data FROM jobs ORDER BY seq'),
    queuedOf: db.prepare<[string, number], JobRow>(
      "SELECT data FROM jobs WHERE state = 'queued' AND owner = ? ORDER BY priority DESC, seq LIMIT ?",
    ),
    waitingOwners: db.prepare<[], OwnerRow>('SELECT * FROM owners WHERE queued > 0'),
    allOwners: db.prepare<[], OwnerRow>('SELECT * FROM owners ORDER BY owner'),
    owner: db.prepare<[string], OwnerRow>('SELECT * FROM owners WHERE owner = ?'),
    setUsage: db.prepare<[number, number, string]>(
      'UPDATE owners SET usage = ?, usage_at = ? WHERE owner = ?',
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

  constructor(
    readonly file: string,
    readonly policy: OwnerPolicy = DEFAULT_OWNER_POLICY,
  ) {
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
    addOwnerTables(this.db);
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
      this.checkQueuedCaps(jobs);
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
        this.sql.insert.run(
          id,
          seq,
          record.state,
          JSON.stringify(recordToFields(record)),
          record.owner ?? '',
          record.priority ?? 0,
        );
        return record;
      });
    });
    return insert.immediate();
  }

  /** Throws OwnerQuotaError when a batch would take an owner past JM_OWNER_MAX_QUEUED. */
  private checkQueuedCaps(jobs: ReadonlyArray<NewJob>): void {
    for (const [owner, adding] of countByOwner(jobs)) {
      const cap = valueFor(this.policy.maxQueued, owner);
      if (cap <= 0) continue;
      const queued = this.sql.owner.get(owner)?.queued ?? 0;
      if (queued + adding > cap) throw new OwnerQuotaError(owner, queued, adding, cap);
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.read(id);
  }

  async list(): Promise<JobRecord[]> {
    return this.sql.list.all().map(parseRow);
  }

  async queued(limit: number): Promise<JobRecord[]> {
    const now = Date.now();
    const owners = rankOwners(this.sql.waitingOwners.all().map(ownerStats), this.policy, now);
    const jobs: JobRecord[] = [];
    for (const owner of owners) {
      if (jobs.length >= limit) break;
      for (const row of this.sql.queuedOf.all(owner, limit - jobs.length)) jobs.push(parseRow(row));
    }
    return jobs;
  }

  async owners(): Promise<OwnerStats[]> {
    return this.sql.allOwners.all().map(ownerStats);
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
      const leasing = job.state === 'queued' && ACTIVE_STATES.includes(updated.state);
      if (leasing && !this.lease(job.owner ?? '', Date.now())) {
        return { ok: false, reason: 'quota', job };
      }
      this.write(updated);
      return { ok: true, job: updated };
    });
    return run.immediate();
  }

  /**
   * Inside a transition: false when the owner is at JM_OWNER_MAX_RUNNING, else its usage counts
   * one more lease.
   */
  private lease(owner: string, now: number): boolean {
    const row = this.sql.owner.get(owner);
    const stats = row ? ownerStats(row) : { owner, queued: 0, active: 0, usage: 0, usageAt: now };
    const cap = valueFor(this.policy.maxRunning, owner);
    if (cap > 0 && stats.active >= cap) return false;
    this.sql.setUsage.run(usageAfterLease(stats, now, this.policy.halfLifeMs), now, owner);
    return true;
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

const ACTIVE_OF = (row: 'NEW' | 'OLD') => `(${row}.state IN ('leased', 'running', 'uploading'))`;

/**
 * The `owner` and `priority` columns (filled in from the records of a file made before them),
 * the `owners` table built from the jobs, and the triggers that keep its counts.
 */
function addOwnerTables(db: Database.Database): void {
  db.transaction(() => {
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all();
    if (tables.some((table) => table.name === 'owners')) return;
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(jobs)').all();
    if (!columns.some((column) => column.name === 'owner')) {
      db.exec(`ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
        ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        UPDATE jobs SET owner = coalesce(json_extract(data, '$.owner'), ''),
          priority = coalesce(CAST(json_extract(data, '$.priority') AS INTEGER), 0);`);
    }
    db.exec(`
      CREATE TABLE owners (
        owner TEXT PRIMARY KEY,
        queued INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 0,
        usage REAL NOT NULL DEFAULT 0,
        usage_at INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO owners (owner, queued, active)
        SELECT owner, SUM(state = 'queued'), SUM(state IN ('leased', 'running', 'uploading'))
        FROM jobs GROUP BY owner;
      CREATE INDEX IF NOT EXISTS jobs_owner_queue ON jobs (state, owner, priority DESC, seq);
      CREATE TRIGGER jobs_owner_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO owners (owner) VALUES (NEW.owner) ON CONFLICT DO NOTHING;
        UPDATE owners SET queued = queued + (NEW.state = 'queued'), active = active + ${ACTIVE_OF('NEW')}
          WHERE owner = NEW.owner;
      END;
      CREATE TRIGGER jobs_owner_update AFTER UPDATE OF state, owner ON jobs
      WHEN OLD.state IS NOT NEW.state OR OLD.owner IS NOT NEW.owner BEGIN
        UPDATE owners SET queued = queued - (OLD.state = 'queued'), active = active - ${ACTIVE_OF('OLD')}
          WHERE owner = OLD.owner;
        INSERT INTO owners (owner) VALUES (NEW.owner) ON CONFLICT DO NOTHING;
        UPDATE owners SET queued = queued + (NEW.state = 'queued'), active = active + ${ACTIVE_OF('NEW')}
          WHERE owner = NEW.owner;
      END;
      CREATE TRIGGER jobs_owner_delete AFTER DELETE ON jobs BEGIN
        UPDATE owners SET queued = queued - (OLD.state = 'queued'), active = active - ${ACTIVE_OF('OLD')}
          WHERE owner = OLD.owner;
      END;
    `);
  }).immediate();
}

function ownerStats(row: OwnerRow): OwnerStats {
  return {
    owner: row.owner,
    queued: row.queued,
    active: row.active,
    usage: row.usage,
    usageAt: row.usage_at,
  };
}

function parseRow(row: JobRow): JobRecord {
  return recordFromFields(JSON.parse(row.data) as Record<string, string>);
}
