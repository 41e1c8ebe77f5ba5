/**
 * Finished jobs, in an append-only JSON-lines file under the data dir. A crash can leave a
 * truncated last line: it is skipped (and the file repaired on the next append), never fatal.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobHistoryRecord, JobOutcome, JobTotals } from '../contract/ui-contract';

const JOB_OUTCOMES: ReadonlySet<string> = new Set<JobOutcome>([
  'running',
  'done',
  'failed',
  'timeout',
  'validation-failed',
  'download-failed',
  'upload-failed',
  'aborted',
  'image-refused',
]);

function isJobHistoryRecord(value: unknown): value is JobHistoryRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.jobId === 'string' &&
    typeof record.manager === 'string' &&
    typeof record.command === 'string' &&
    typeof record.state === 'string' &&
    JOB_OUTCOMES.has(record.state) &&
    (record.exitCode === null || typeof record.exitCode === 'number') &&
    typeof record.receivedAt === 'string' &&
    typeof record.cpuSeconds === 'number' &&
    typeof record.wallSeconds === 'number'
  );
}

function localDay(iso: string): string {
  const date = new Date(iso);
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export class JobHistory {
  readonly file: string;
  private records: JobHistoryRecord[] = [];
  private skipped = 0;
  private needsNewline = false;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'job-history.jsonl');
  }

  /** Reads the file; returns how many lines were unreadable (e.g. a truncated last line). */
  load(): number {
    this.records = [];
    this.skipped = 0;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
    this.needsNewline = text.length > 0 && !text.endsWith('\n');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const value: unknown = JSON.parse(line);
        if (isJobHistoryRecord(value)) this.records.push(value);
        else this.skipped += 1;
      } catch {
        this.skipped += 1;
      }
    }
    return this.skipped;
  }

  get unreadableLines(): number {
    return this.skipped;
  }

  append(record: JobHistoryRecord): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    // After a truncated last line, start on a fresh line so this record stays readable.
    const prefix = this.needsNewline ? '\n' : '';
    fs.appendFileSync(this.file, `${prefix}${JSON.stringify(record)}\n`);
    this.needsNewline = false;
    this.records.push(record);
  }

  has(jobId: string): boolean {
    return this.records.some((record) => record.jobId === jobId);
  }

  /** Newest first. */
  list(limit = 100): JobHistoryRecord[] {
    return this.records.slice(-Math.max(0, limit)).reverse();
  }

  totals(): JobTotals {
    const perDay = new Map<string, number>();
    let succeeded = 0;
    let cpuSeconds = 0;
    for (const record of this.records) {
      if (record.state === 'done') succeeded += 1;
      cpuSeconds += record.cpuSeconds;
      const day = localDay(record.finishedAt ?? record.receivedAt);
      perDay.set(day, (perDay.get(day) ?? 0) + 1);
    }
    return {
      jobs: this.records.length,
      succeeded,
      failed: this.records.length - succeeded,
      cpuHours: cpuSeconds / 3600,
      perDay: [...perDay.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([day, jobs]) => ({ day, jobs })),
    };
  }
}
