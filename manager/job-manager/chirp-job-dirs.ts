/**
 * Chirp storage on the manager's side (report 4.1.2, 4.2.2). chirp_server exports
 * JM_CHIRP_WORK_DIR, which the manager also has on disk, as the original did. For each lease:
 *
 *     /<jobId>.<name>/          .__acl empty: no agent may list or read it
 *     /<jobId>.<name>/input/    the job's inputs, copied in; agents `rl` (chirp_get stats first)
 *     /<jobId>.<name>/output/   agents `w` (put files; no listing, reading or deleting)
 *
 * `<name>` is derived from the lease's input token, so only the agent holding the lease learns
 * it (in runJob), and a new lease gets new directories. runJob carries `chirpUrl` =
 * JM_CHIRP_SERVER and both paths; storeJobOutputDir the output path. At jobDone the output dir is
 * closed (its ACL emptied) and its plain files copied into the job's local output dir for
 * archiving. The directories go when the job ends, when its lease is given up, and in a sweep
 * for any whose job no longer holds that lease (cancelled by an operator, manager restarts).
 *
 * JM_CHIRP_ORIGINAL_AGENTS: the original agent puts its bundle at `<jobID>/<jobID>.tgz`,
 * whatever outputDir says, so the output dir is `/<jobId>` instead (write-only, created at
 * getJobOutputDir as the original manager did); anyone who knows the job id can write there
 * while the job uploads.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isSafeFileName, isValidJobId, splitList } from '@copilot/protocol';
import type { Logger } from '@copilot/base/logger';
import {
  CHIRP_ACL_FILE,
  agentAcl,
  parseChirpAcl,
  rootAclProblems,
  writeChirpAcl,
} from './chirp-acl';
import { ACTIVE_STATES, type JobRecord } from './job-record';
import type { JobQueue } from './job-queue';
import type { JobStorePaths } from './job-store-paths';
import type { ChirpStorageConfig } from './manager-config';
import { errorMessage } from '@copilot/base/errors';

export interface ChirpJobDirsOptions {
  config: ChirpStorageConfig;
  /** Where copilot-job-submit put the inputs (JM_STORAGE_DIR). */
  paths: JobStorePaths;
  logger: Logger;
  maxUploadBytes: number;
  maxJobBytes: number;
  /** Output files taken from one job (default 1000, as HTTP storage). */
  maxFiles?: number;
}

export interface ChirpJobStorage {
  chirpUrl: string;
  inputDir: string;
  outputDir: string;
}

const NAME_LENGTH = 32;
const LEASE_DIR = /^(.+)\.([A-Za-z0-9_-]+)$/;
// chirp_server may run as another user (listing 4.1's -i), and it opens every directory on a
// path for reading: all must be readable by it, the output dir writable. Sticky, so that user
// cannot replace the manager's ACL file there. What agents may do is the ACLs' business.
const PARENT_MODE = 0o755;
const INPUT_MODE = 0o755;
const OUTPUT_MODE = 0o1777;

/** Copies a regular file without following a symlink that may have replaced it. */
async function copyPlainFile(source: string, target: string, maxBytes: number): Promise<number> {
  const handle = await fs.promises.open(source, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > maxBytes) throw new Error(`${stat.size} bytes, over the ${maxBytes} left`);
    await pipeline(
      handle.createReadStream({ autoClose: false, end: Math.max(0, stat.size - 1) }),
      fs.createWriteStream(target, { flags: 'wx', mode: 0o644 }),
    );
    return stat.size;
  } finally {
    await handle.close();
  }
}

export class ChirpJobDirs {
  private readonly config: ChirpStorageConfig;

  constructor(private readonly options: ChirpJobDirsOptions) {
    this.config = options.config;
  }

  /** Warns when the exported root lets agents list or change it. */
  async checkRoot(): Promise<void> {
    const file = path.join(this.config.workDir, CHIRP_ACL_FILE);
    const text = await fs.promises.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) {
      this.options.logger.warn('the Chirp root has no ACL file; is JM_CHIRP_WORK_DIR exported?', {
        workDir: this.config.workDir,
      });
      return;
    }
    const problems = rootAclProblems(parseChirpAcl(text));
    if (problems.length > 0) {
      this.options.logger.warn('the Chirp root ACL lets any agent list or change job dirs', {
        entries: problems.join('; '),
      });
    }
  }

  /** The per-lease directory name, `<jobId>.<name>`. */
  leaseDirName(job: Pick<JobRecord, 'id' | 'inputToken'>): string {
    if (job.inputToken === undefined) throw new Error(`job ${job.id} has no lease token`);
    const name = createHash('sha256').update(`chirp-dir:${job.inputToken}`).digest('base64url');
    return `${job.id}.${name.slice(0, NAME_LENGTH)}`;
  }

  /** runJob's storage attributes. */
  storageFor(job: JobRecord): ChirpJobStorage {
    const lease = `/${this.leaseDirName(job)}`;
    return {
      chirpUrl: this.config.server,
      inputDir: `${lease}/input`,
      outputDir: this.outputDir(job),
    };
  }

  private outputDir(job: JobRecord): string {
    return this.config.originalAgents ? `/${job.id}` : `/${this.leaseDirName(job)}/output`;
  }

  private onDisk(chirpPath: string): string {
    return path.join(this.config.workDir, chirpPath);
  }

  private async makeDir(dir: string, mode: number, rights: string | undefined): Promise<void> {
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.chmod(dir, mode);
    await writeChirpAcl(dir, rights === undefined ? [] : agentAcl(rights));
  }

  /** At lease time: the lease's directories with their ACLs, and the inputs. Idempotent. */
  async prepareLease(job: JobRecord): Promise<void> {
    const storage = this.storageFor(job);
    await this.makeDir(this.onDisk(`/${this.leaseDirName(job)}`), PARENT_MODE, undefined);
    const inputDir = this.onDisk(storage.inputDir);
    await this.makeDir(inputDir, INPUT_MODE, 'rl');
    for (const name of splitList(job.inputFiles)) {
      const target = path.join(inputDir, name);
      await fs.promises.copyFile(this.options.paths.file(job.id, 'input', name), target);
      await fs.promises.chmod(target, name === job.command ? 0o755 : 0o644);
    }
    if (!this.config.originalAgents)
      await this.makeDir(this.onDisk(storage.outputDir), OUTPUT_MODE, 'w');
  }

  /** At getJobOutputDir: the output dir, made (again) if it is not there. */
  async prepareOutput(job: JobRecord): Promise<{ outputChirpUrl: string; outputDir: string }> {
    const outputDir = this.outputDir(job);
    await this.makeDir(this.onDisk(outputDir), OUTPUT_MODE, 'w');
    return { outputChirpUrl: this.config.server, outputDir };
  }

  /**
   * At jobDone: closes the output dir to agents, then copies its plain files (safe names, within
   * the per-file, per-job and file-count caps) into `into`, which is emptied first. Returns what
   * was left out, for the job's note.
   */
  async collectOutputs(job: JobRecord, into: string): Promise<string[]> {
    const source = this.onDisk(this.outputDir(job));
    await fs.promises.rm(into, { recursive: true, force: true });
    await fs.promises.mkdir(into, { recursive: true });
    const entries = await fs.promises
      .readdir(source, { withFileTypes: true })
      .catch(() => undefined);
    if (entries === undefined) return [];
    await writeChirpAcl(source, []);
    const { maxUploadBytes, maxJobBytes, maxFiles = 1000 } = this.options;
    const skipped: string[] = [];
    let bytes = 0;
    let files = 0;
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      if (!isSafeFileName(entry.name) || !entry.isFile() || files >= maxFiles) {
        skipped.push(entry.name);
        continue;
      }
      const room = Math.min(maxUploadBytes, maxJobBytes - bytes);
      try {
        bytes += await copyPlainFile(
          path.join(source, entry.name),
          path.join(into, entry.name),
          room,
        );
        files += 1;
      } catch (error) {
        await fs.promises.rm(path.join(into, entry.name), { force: true });
        this.options.logger.warn('Chirp output not taken', {
          job: job.id,
          file: entry.name,
          error: errorMessage(error),
        });
        skipped.push(entry.name);
      }
    }
    return skipped.length > 0 ? [`outputs left out: ${skipped.join(', ')}`] : [];
  }

  /** The job's directories go: it ended, or its lease did. Never throws. */
  async release(job: Pick<JobRecord, 'id' | 'inputToken'>): Promise<void> {
    const dirs: string[] = [];
    if (job.inputToken !== undefined) dirs.push(this.leaseDirName(job));
    if (this.config.originalAgents) dirs.push(job.id);
    for (const dir of dirs) {
      await fs.promises
        .rm(this.onDisk(`/${dir}`), { recursive: true, force: true })
        .catch((error: unknown) =>
          this.options.logger.warn('cannot remove a Chirp job dir', {
            dir,
            error: errorMessage(error),
          }),
        );
    }
  }

  /** Whether `name` in the work dir belongs to job `job` as it stands now. */
  private isLive(name: string, job: JobRecord): boolean {
    if (!ACTIVE_STATES.includes(job.state)) return false;
    return name === job.id || (job.inputToken !== undefined && name === this.leaseDirName(job));
  }

  /** Removes job directories whose job no longer holds them; returns how many. */
  async sweep(queue: JobQueue): Promise<number> {
    const entries = await fs.promises.readdir(this.config.workDir, { withFileTypes: true });
    let removed = 0;
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const jobId = this.jobOf(entry.name);
      const job = jobId === undefined ? undefined : await queue.get(jobId);
      // Directories of jobs this queue does not know are somebody else's.
      if (job === undefined || this.isLive(entry.name, job)) continue;
      await fs.promises.rm(this.onDisk(`/${entry.name}`), { recursive: true, force: true });
      removed += 1;
    }
    return removed;
  }

  private jobOf(name: string): string | undefined {
    const lease = LEASE_DIR.exec(name);
    if (lease?.[1] !== undefined && lease[2]?.length === NAME_LENGTH && isValidJobId(lease[1])) {
      return lease[1];
    }
    return this.config.originalAgents && isValidJobId(name) ? name : undefined;
  }
}
