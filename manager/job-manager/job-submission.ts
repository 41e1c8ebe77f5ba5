/**
 * Submitting jobs: the CLIs open the same store as the managers (the SQLite file or Redis) and
 * write the job's input files into the shared storage dir. No admin API is needed, and this
 * works the same with one manager or several sharing a queue. The inputs are in place before
 * the job becomes visible in the queue.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  assertSafeFileName,
  formatEnvironment,
  joinList,
  parseClassAdExpression,
} from '@copilot/protocol';
import {
  FINAL_STATES,
  LEASE_RELEASED,
  newJobId,
  type JobPatch,
  type JobRecord,
  type JobSpec,
  type JobState,
} from './job-record';
import type { JobQueue } from './job-queue';
import type { JobStorePaths } from './job-store-paths';
import { CopilotError, errorMessage } from '@copilot/base/errors';

export interface SubmitRequest {
  /** Path of the executable (e.g. calculator.sh); its base name becomes the job's command. */
  commandFile: string;
  arguments?: string;
  packages?: string[];
  /** Paths of further input files. */
  inputFiles?: string[];
  environment?: Record<string, string>;
  requirements?: string;
  /** Path of a validation script, run by the agent after the job. */
  validationFile?: string;
}

export class SubmitError extends CopilotError {
  constructor(message: string) {
    super('JOB_SUBMIT_REFUSED', message);
    this.name = 'SubmitError';
  }
}

export async function submitJob(
  queue: JobQueue,
  paths: JobStorePaths,
  request: SubmitRequest,
): Promise<JobRecord> {
  const sources = [request.commandFile, ...(request.inputFiles ?? [])];
  if (request.validationFile !== undefined) sources.push(request.validationFile);
  const names = new Map<string, string>();
  for (const source of sources) {
    const name = assertSafeFileName(path.basename(source));
    if (names.has(name)) throw new SubmitError(`two input files are called ${name}`);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(source);
    } catch {
      stat = undefined;
    }
    if (!stat?.isFile()) throw new SubmitError(`${source} is not a readable file`);
    names.set(name, source);
  }
  if (request.requirements !== undefined) {
    try {
      parseClassAdExpression(request.requirements);
    } catch (error) {
      throw new SubmitError(
        `requirements ${JSON.stringify(request.requirements)}: ${errorMessage(error)}`,
      );
    }
  }
  const command = path.basename(request.commandFile);
  const spec: JobSpec = {
    command,
    arguments: request.arguments ?? '',
    environment: formatEnvironment(request.environment ?? {}),
    packages: joinList(request.packages ?? []),
    inputFiles: joinList([...names.keys()]),
  };
  if (request.validationFile !== undefined) spec.validation = path.basename(request.validationFile);
  if (request.requirements !== undefined) spec.requirements = request.requirements;

  const id = newJobId();
  const inputDir = paths.dir(id, 'input');
  await fs.promises.mkdir(inputDir, { recursive: true });
  try {
    for (const [name, source] of names) {
      const target = paths.file(id, 'input', name);
      await fs.promises.copyFile(source, target);
      await fs.promises.chmod(target, name === command ? 0o755 : 0o644);
    }
    return await queue.add(id, spec);
  } catch (error) {
    await fs.promises.rm(paths.jobDir(id), { recursive: true, force: true });
    throw error;
  }
}

/** Polls the store until the job is done, failed or cancelled; undefined on timeout. */
export async function waitForJob(
  queue: JobQueue,
  id: string,
  timeoutMs: number,
  pollMs = 250,
): Promise<JobRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.get(id);
    if (job && FINAL_STATES.includes(job.state)) return job;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** An operator's change to one job; SubmitError names the job's state when it does not apply. */
async function operatorTransition(
  queue: JobQueue,
  id: string,
  from: readonly JobState[],
  patch: JobPatch,
  action: string,
): Promise<JobRecord> {
  const result = await queue.transition(id, { from }, { ...patch, updatedAt: Date.now() });
  if (result.ok) return result.job;
  throw new SubmitError(
    result.reason === 'missing'
      ? `no job ${id}`
      : `job ${id} is ${result.job?.state ?? '?'}; not ${action}`,
  );
}

/** Operator actions of copilot-jobs. */
export function cancelJob(queue: JobQueue, id: string): Promise<JobRecord> {
  return operatorTransition(
    queue,
    id,
    ['queued', 'leased', 'running', 'uploading'],
    {
      state: 'cancelled',
      leaseExpiresAt: null,
      inputToken: null,
      outputToken: null,
      note: 'cancelled by an operator',
    },
    'cancelled',
  );
}

export function requeueJob(queue: JobQueue, id: string): Promise<JobRecord> {
  return operatorTransition(
    queue,
    id,
    ['leased', 'running', 'uploading', 'failed', 'cancelled'],
    {
      state: 'queued',
      ...LEASE_RELEASED,
      exitCode: null,
      agentState: null,
      finishedAt: null,
      note: 'requeued by an operator',
    },
    'requeued',
  );
}
