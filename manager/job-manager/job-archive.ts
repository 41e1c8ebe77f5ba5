/**
 * Finalising a job's outputs into JM_DONE_JOB_DIR, as listing 4.23 expects:
 *
 *     <done>/<id>/<id>.tgz   with entries <id>/stdout, <id>/stderr and every other output
 *     <done>/<id>/stdout     the same stdout, unpacked
 *     <done>/<id>/stderr     the same stderr, unpacked
 *
 * Running it again for the same job, even while a first run is still going, rebuilds the same
 * files (idempotent). The archive is written to a `.partial` temp first; a manager killed while
 * archiving leaves that temp behind, and removePartialArchives clears it at the next start.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { create as createTar } from 'tar';
import { assertValidJobId, isSafeFileName, isValidJobId } from '@copilot/protocol';

const STANDARD_OUTPUTS = ['stdout', 'stderr'] as const;
const PARTIAL_SUFFIX = '.partial';

function partialArchiveName(jobId: string): string {
  return `.${jobId}.tgz.${randomBytes(4).toString('hex')}${PARTIAL_SUFFIX}`;
}

function isPartialArchive(jobId: string, name: string): boolean {
  return name.startsWith(`.${jobId}.tgz.`) && name.endsWith(PARTIAL_SUFFIX);
}

/** Removes the archive temps a killed manager left in `<done>/<id>/`; returns how many. */
export async function removePartialArchives(doneJobDir: string): Promise<number> {
  let jobs: fs.Dirent[];
  try {
    jobs = await fs.promises.readdir(doneJobDir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let removed = 0;
  for (const job of jobs) {
    if (!job.isDirectory() || !isValidJobId(job.name)) continue;
    const dir = path.join(doneJobDir, job.name);
    const names = await fs.promises.readdir(dir).catch((): string[] => []);
    for (const name of names.filter((entry) => isPartialArchive(job.name, entry))) {
      await fs.promises.rm(path.join(dir, name), { force: true });
      removed += 1;
    }
  }
  return removed;
}

export interface ArchivedJob {
  archive: string;
  /** Output file names in the archive (without the `<id>/` prefix). */
  files: string[];
  /** Standard outputs the agent did not upload (they are archived empty). */
  missing: string[];
}

export async function archiveJobOutputs(
  jobId: string,
  outputDir: string,
  doneJobDir: string,
): Promise<ArchivedJob> {
  assertValidJobId(jobId);
  await fs.promises.mkdir(outputDir, { recursive: true });
  const missing: string[] = [];
  for (const name of STANDARD_OUTPUTS) {
    const file = path.join(outputDir, name);
    if (!fs.existsSync(file)) {
      missing.push(name);
      await fs.promises.writeFile(file, '');
    }
  }
  const entries = await fs.promises.readdir(outputDir, { withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && isSafeFileName(entry.name))
    .map((entry) => entry.name)
    .sort();
  const jobDoneDir = path.join(doneJobDir, jobId);
  await fs.promises.mkdir(jobDoneDir, { recursive: true });
  const archive = path.join(jobDoneDir, `${jobId}.tgz`);
  // A resent jobDone may be archiving the same job at the same time: each run has its own temp.
  const temp = path.join(jobDoneDir, partialArchiveName(jobId));
  try {
    await createTar(
      { gzip: true, file: temp, cwd: outputDir, prefix: jobId, portable: true },
      files,
    );
    await fs.promises.rename(temp, archive);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
  for (const name of STANDARD_OUTPUTS) {
    await fs.promises.copyFile(path.join(outputDir, name), path.join(jobDoneDir, name));
  }
  return { archive, files, missing };
}
