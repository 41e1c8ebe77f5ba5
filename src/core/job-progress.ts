/**
 * A job's own progress (BOINC's fraction_done): the job may write a number from 0 to 1 to
 * `$COPILOT_PROGRESS_FILE` (the file PROGRESS_FILE_NAME in its status dir, mounted at /copilot).
 * The agent reads at most the first bytes of it, at most every few seconds a job, and takes
 * only a finite number in [0, 1]; anything else leaves the last good value. The ETA is
 * extrapolated from the time the job has run.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PROGRESS_FILE_NAME = 'progress';
/** "0.123456789" and some white space; a longer file is not a progress value. */
const MAX_PROGRESS_BYTES = 64;
export const PROGRESS_READ_INTERVAL_MS = 3000;

/** The fraction in `text`, or null when it is not one number in [0, 1]. */
export function parseProgress(text: string): number | null {
  const trimmed = text.trim();
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/.test(trimmed)) return null;
  const value = Number(trimmed);
  return Number.isFinite(value) && value >= 0 && value <= 1 ? value : null;
}

/** The fraction in `file`, reading at most MAX_PROGRESS_BYTES; null when absent or unusable. */
export function readProgressFile(file: string): number | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(
      file,
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
    );
    if (!fs.fstatSync(fd).isFile()) return null;
    const buffer = Buffer.alloc(MAX_PROGRESS_BYTES + 1);
    const length = fs.readSync(fd, buffer, 0, buffer.length, 0);
    if (length > MAX_PROGRESS_BYTES) return null;
    return parseProgress(buffer.subarray(0, length).toString('utf8'));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Time still to go when `progress` of the work took `ranMs`; null before any progress. */
export function estimateRemainingMs(progress: number | null, ranMs: number): number | null {
  if (progress === null || progress <= 0 || ranMs <= 0) return null;
  return Math.round((ranMs * (1 - progress)) / progress);
}

/** The last good progress of each job, read again once PROGRESS_READ_INTERVAL_MS has passed. */
export class ProgressReader {
  private readonly last = new Map<string, { value: number | null; readAt: number }>();

  constructor(private readonly intervalMs = PROGRESS_READ_INTERVAL_MS) {}

  read(jobId: string, statusDir: string, now: number): number | null {
    const seen = this.last.get(jobId);
    if (seen && now - seen.readAt < this.intervalMs) return seen.value;
    const value = readProgressFile(path.join(statusDir, PROGRESS_FILE_NAME)) ?? seen?.value ?? null;
    this.last.set(jobId, { value, readAt: now });
    return value;
  }

  forget(jobId: string): void {
    this.last.delete(jobId);
  }
}
