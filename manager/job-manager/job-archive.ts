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
 *
 * Outputs of at most SMALL_OUTPUTS_MAX_BYTES in all (nearly every job's) are archived in memory:
 * a ustar archive with the same entries node-tar writes (`<id>/<name>`, mode, size, mtime; no
 * owner), gzipped in one call and written in one. That costs the manager a fraction of
 * node-tar's streams per file; bigger outputs, and names ustar cannot hold, stream through
 * node-tar. `<done>/<id>/stdout` and `stderr` are hard links to the outputs (copies across file
 * systems).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
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

/** Outputs up to this size in all are archived in memory (tarInMemory). */
export const SMALL_OUTPUTS_MAX_BYTES = 256 * 1024;

const BLOCK = 512;

/** A ustar header field: `value` in octal, zero-padded, ending in NUL. */
function octal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** The ustar header of a regular file, or undefined when its path does not fit ustar. */
function ustarHeader(jobId: string, name: string, stat: fs.Stats): Buffer | undefined {
  const full = `${jobId}/${name}`;
  const [prefix, rest] = full.length <= 100 ? ['', full] : [jobId, name];
  if (rest.length > 100 || prefix.length > 155) return undefined;
  const header = Buffer.alloc(BLOCK);
  header.write(rest, 0, 100, 'ascii');
  octal(header, 100, 8, stat.mode & 0o7777);
  // uid and gid (108, 116) stay empty, as node-tar's portable mode leaves them.
  octal(header, 124, 12, stat.size);
  octal(header, 136, 12, Math.floor(stat.mtimeMs / 1000));
  header.fill(' ', 148, 156);
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii');
  header.write(prefix, 345, 155, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}

/**
 * The gzipped ustar archive of `files` (regular files in `outputDir`) as `<jobId>/<name>`, made in
 * memory; undefined when they are more than SMALL_OUTPUTS_MAX_BYTES, or a name does not fit.
 */
export function tarInMemory(
  jobId: string,
  outputDir: string,
  files: readonly string[],
): Buffer | undefined {
  const stats = files.map((name) => fs.lstatSync(path.join(outputDir, name)));
  const total = stats.reduce((sum, stat) => sum + stat.size, 0);
  if (total > SMALL_OUTPUTS_MAX_BYTES || stats.some((stat) => !stat.isFile())) return undefined;
  const blocks: Buffer[] = [];
  for (const [index, name] of files.entries()) {
    const stat = stats[index] as fs.Stats;
    const header = ustarHeader(jobId, name, stat);
    if (!header) return undefined;
    const data = fs.readFileSync(path.join(outputDir, name));
    // Changed since its lstat (a late upload): node-tar's stream then takes it as it is.
    if (data.length !== stat.size) return undefined;
    blocks.push(header, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(blocks));
}

/** The regular outputs in `outputDir` (made when missing), empty stdout/stderr added if absent. */
async function outputFiles(outputDir: string): Promise<{ files: string[]; missing: string[] }> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(outputDir, { withFileTypes: true });
  } catch {
    await fs.promises.mkdir(outputDir, { recursive: true });
    entries = [];
  }
  const names = new Set(
    entries.filter((entry) => entry.isFile() && isSafeFileName(entry.name)).map((e) => e.name),
  );
  const missing: string[] = [];
  for (const name of STANDARD_OUTPUTS) {
    // Something else of that name (a directory) is left for the done copy to fail on, as before.
    if (entries.some((entry) => entry.name === name)) continue;
    missing.push(name);
    await fs.promises.writeFile(path.join(outputDir, name), '');
    names.add(name);
  }
  return { files: [...names].sort(), missing };
}

/**
 * `<done>/<id>/<name>` as the same file as the output: a hard link, which makes no new inode
 * (making one took 0.3–0.5 ms of kernel time in a crowded /tmp on ext4); a copy where a link
 * cannot be made (another file system). A target of an earlier run is replaced by a copy, as
 * before; one that is already this very file is left alone.
 */
async function placeDoneFile(source: string, target: string): Promise<void> {
  try {
    await fs.promises.link(source, target);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const [from, to] = [fs.statSync(source), fs.statSync(target)];
      // Copying a file onto itself would empty it.
      if (from.ino === to.ino && from.dev === to.dev) return;
    }
  }
  await fs.promises.copyFile(source, target);
}

/**
 * Reading the outputs is synchronous (a directory listing and at most SMALL_OUTPUTS_MAX_BYTES of
 * small files on the manager's own disk: microseconds each); what creates files stays
 * asynchronous, as a slow or remote done dir must not stop the manager's event loop.
 */
export async function archiveJobOutputs(
  jobId: string,
  outputDir: string,
  doneJobDir: string,
): Promise<ArchivedJob> {
  assertValidJobId(jobId);
  const { files, missing } = await outputFiles(outputDir);
  const jobDoneDir = path.join(doneJobDir, jobId);
  await fs.promises.mkdir(jobDoneDir, { recursive: true });
  const archive = path.join(jobDoneDir, `${jobId}.tgz`);
  // A resent jobDone may be archiving the same job at the same time: each run has its own temp.
  const temp = path.join(jobDoneDir, partialArchiveName(jobId));
  try {
    const small = tarInMemory(jobId, outputDir, files);
    if (small) await fs.promises.writeFile(temp, small, { flag: 'wx' });
    else {
      await createTar(
        { gzip: true, file: temp, cwd: outputDir, prefix: jobId, portable: true },
        files,
      );
    }
    await fs.promises.rename(temp, archive);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
  for (const name of STANDARD_OUTPUTS) {
    await placeDoneFile(path.join(outputDir, name), path.join(jobDoneDir, name));
  }
  return { archive, files, missing };
}
