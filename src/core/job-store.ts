/**
 * The job in hand, persisted in its work dir (`<dataDir>/jobs/<jobId>/job.json`) at every phase
 * change, so that a restarted agent resumes it: it runs again when it had not finished, and a
 * finished job's result is delivered (output dir, upload, jobDone) instead of being lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobDescription } from '../protocol/commands';
import { isValidJobId } from '../protocol/job-fields';
import type { JobOutcome } from '../contract/ui-contract';
import { writeFileAtomic } from '../base/write-atomic';

/** Where the job is in its life; each is a point a restarted agent can resume from. */
export type PersistedPhase = 'received' | 'running' | 'finished' | 'uploaded';

export interface JobResult {
  exitCode: number;
  state: Exclude<JobOutcome, 'running'>;
  cpuSeconds: number;
  startedAt: string | null;
  finishedAt: string;
  /** The container had network access. */
  network?: boolean;
  error?: string;
}

export interface OutputTarget {
  /** Who sent storeJobOutputDir: jobDone goes there. */
  peer: string;
  outputChirpUrl: string;
  outputDir: string;
}

export interface JobInHand {
  job: JobDescription;
  /** Exactly as last received from a manager; absent when no manager sent one. */
  jmJobData?: string;
  /** Full JID of the manager that sent runJob. */
  manager: string;
  phase: PersistedPhase;
  receivedAt: string;
  result?: JobResult;
  output?: OutputTarget;
}

export interface JobPaths {
  root: string;
  input: string;
  output: string;
  stdout: string;
  stderr: string;
  state: string;
  /** Mounted at /checkpoint: what the job keeps to resume from, kept when it restarts. */
  checkpoint: string;
  /** Mounted at /copilot: the progress file the job may write (job-progress.ts). */
  status: string;
}

export class JobStore {
  readonly jobsDir: string;

  constructor(dataDir: string) {
    this.jobsDir = path.join(dataDir, 'jobs');
  }

  paths(jobId: string): JobPaths {
    if (!isValidJobId(jobId)) throw new Error(`invalid job id ${JSON.stringify(jobId)}`);
    const root = path.join(this.jobsDir, jobId);
    return {
      root,
      input: path.join(root, 'input'),
      output: path.join(root, 'output'),
      stdout: path.join(root, 'stdout'),
      stderr: path.join(root, 'stderr'),
      state: path.join(root, 'job.json'),
      checkpoint: path.join(root, 'checkpoint'),
      status: path.join(root, 'status'),
    };
  }

  exists(jobId: string): boolean {
    return fs.existsSync(this.paths(jobId).state);
  }

  /** Writes atomically (temp file + rename), so a crash never leaves half a state file. */
  save(inHand: JobInHand): void {
    const paths = this.paths(inHand.job.id);
    fs.mkdirSync(paths.root, { recursive: true, mode: 0o700 });
    writeFileAtomic(paths.state, JSON.stringify(inHand, null, 2));
  }

  /** Every persisted job; unreadable state files are reported, not thrown. */
  loadAll(onError: (jobId: string, error: Error) => void): JobInHand[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.jobsDir);
    } catch {
      return [];
    }
    const result: JobInHand[] = [];
    for (const name of names) {
      if (!isValidJobId(name)) continue;
      const inHand = this.load(name, onError);
      if (inHand) result.push(inHand);
    }
    return result;
  }

  /** One persisted job; undefined when there is none or (reported) when it cannot be read. */
  load(jobId: string, onError: (jobId: string, error: Error) => void): JobInHand | undefined {
    const file = this.paths(jobId).state;
    if (!fs.existsSync(file)) return undefined;
    try {
      const value = JSON.parse(fs.readFileSync(file, 'utf8')) as JobInHand;
      if (value?.job?.id !== jobId || typeof value.manager !== 'string') {
        throw new Error('state file does not describe this job');
      }
      return value;
    } catch (error) {
      onError(jobId, error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  }

  remove(jobId: string): void {
    fs.rmSync(this.paths(jobId).root, { recursive: true, force: true });
  }
}
