/**
 * Where a job's files live on disk: `<storageDir>/<jobId>/input/<file>` (put there by
 * copilot-job-submit, served to agents) and `<storageDir>/<jobId>/output/<file>` (uploaded by
 * agents). Every path is built from a validated job id and a safe file name, and checked to stay
 * inside the job's directory.
 */
import path from 'node:path';
import { assertSafeFileName, assertValidJobId } from '@copilot/protocol';

export type StorageDirection = 'input' | 'output';

export class JobStorePaths {
  constructor(readonly storageDir: string) {}

  jobDir(jobId: string): string {
    return path.join(this.storageDir, assertValidJobId(jobId));
  }

  dir(jobId: string, direction: StorageDirection): string {
    return path.join(this.jobDir(jobId), direction);
  }

  file(jobId: string, direction: StorageDirection, fileName: string): string {
    const dir = this.dir(jobId, direction);
    const full = path.join(dir, assertSafeFileName(fileName));
    if (path.dirname(full) !== dir) throw new Error(`path escapes the job directory: ${fileName}`);
    return full;
  }
}
