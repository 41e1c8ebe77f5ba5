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
  validateJobSpec,
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
  owner?: string;
  priority?: number;
  /** Container image pinned by digest (registry/repository@sha256:…). */
  image?: string;
}

export class SubmitError extends CopilotError {
  constructor(message: string) {
    super('JOB_SUBMIT_REFUSED', message);
    this.name = 'SubmitError';
  }
}

/** The checked input files (name → source path) and the job spec of a request. */
function prepareSubmission(request: SubmitRequest): { names: Map<string, string>; spec: JobSpec } {
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
  if (request.owner !== undefined) spec.owner = request.owner;
  if (request.priority !== undefined) spec.priority = request.priority;
  if (request.image !== undefined) spec.image = request.image;
  try {
    validateJobSpec(spec);
  } catch (error) {
    throw new SubmitError(errorMessage(error));
  }
  return { names, spec };
}

/** Copies the inputs into the job's input dir; the command is made executable. */
async function storeInputs(
  paths: JobStorePaths,
  id: string,
  names: ReadonlyMap<string, string>,
  command: string,
): Promise<void> {
  await fs.promises.mkdir(paths.dir(id, 'input'), { recursive: true });
  for (const [name, source] of names) {
    const target = paths.file(id, 'input', name);
    await fs.promises.copyFile(source, target);
    await fs.promises.chmod(target, name === command ? 0o755 : 0o644);
  }
}

export async function submitJob(
  queue: JobQueue,
  paths: JobStorePaths,
  request: SubmitRequest,
): Promise<JobRecord> {
  const { names, spec } = prepareSubmission(request);
  const id = newJobId();
  try {
    await storeInputs(paths, id, names, spec.command);
    return await queue.add(id, spec);
  } catch (error) {
    await fs.promises.rm(paths.jobDir(id), { recursive: true, force: true });
    throw error;
  }
}

/** The environment variable an array job's task finds its index in (0 … N-1). */
export const TASK_INDEX_VARIABLE = 'COPILOT_TASK_INDEX';

/** Most jobs one batch may hold. */
export const MAX_BATCH = 100_000;

export interface BatchRequest {
  /** How many jobs. */
  count: number;
  /** `copies`: the same job N times (--number); `array`: each with COPILOT_TASK_INDEX (--array). */
  kind: 'copies' | 'array';
}

export interface SubmittedBatch {
  batch: string;
  jobs: JobRecord[];
}

/** Inputs written this many jobs at a time. */
const COPY_PARALLELISM = 32;

/**
 * Submits `count` jobs sharing one batch id: copies of the request, or an array whose job `i`
 * has COPILOT_TASK_INDEX=i in its environment. The inputs are written first, then every job is
 * queued at once (one transaction with SQLite), so the batch appears whole or not at all.
 */
export async function submitBatch(
  queue: JobQueue,
  paths: JobStorePaths,
  request: SubmitRequest,
  batchRequest: BatchRequest,
): Promise<SubmittedBatch> {
  const { count, kind } = batchRequest;
  if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
    throw new SubmitError(`a batch holds 1 to ${MAX_BATCH} jobs, not ${count}`);
  }
  if (kind === 'array' && request.environment?.[TASK_INDEX_VARIABLE] !== undefined) {
    throw new SubmitError(`${TASK_INDEX_VARIABLE} is set by --array`);
  }
  const { names, spec } = prepareSubmission(request);
  const batch = newJobId();
  const jobs = Array.from({ length: count }, (_, index) => ({
    id: `${batch}-${index}`,
    spec: {
      ...spec,
      batch,
      environment:
        kind === 'array'
          ? formatEnvironment({ ...request.environment, [TASK_INDEX_VARIABLE]: String(index) })
          : spec.environment,
    },
  }));
  try {
    for (let start = 0; start < jobs.length; start += COPY_PARALLELISM) {
      const slice = jobs.slice(start, start + COPY_PARALLELISM);
      await Promise.all(slice.map((job) => storeInputs(paths, job.id, names, spec.command)));
    }
    return { batch, jobs: await queue.addMany(jobs) };
  } catch (error) {
    for (const job of jobs) {
      await fs.promises.rm(paths.jobDir(job.id), { recursive: true, force: true });
    }
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

/** The jobs of a batch, in submission order. */
export async function batchJobs(queue: JobQueue, batch: string): Promise<JobRecord[]> {
  return (await queue.list()).filter((job) => job.batch === batch);
}

export interface BatchActionResult {
  changed: JobRecord[];
  /** Jobs of the batch the action did not apply to (already final, or already queued). */
  skipped: JobRecord[];
}

/** Cancels or requeues every job of a batch it applies to; SubmitError when there is none. */
export async function changeBatch(
  queue: JobQueue,
  batch: string,
  action: 'cancel' | 'requeue',
): Promise<BatchActionResult> {
  const jobs = await batchJobs(queue, batch);
  if (jobs.length === 0) throw new SubmitError(`no batch ${batch}`);
  const result: BatchActionResult = { changed: [], skipped: [] };
  for (const job of jobs) {
    try {
      const changed =
        action === 'cancel' ? await cancelJob(queue, job.id) : await requeueJob(queue, job.id);
      result.changed.push(changed);
    } catch (error) {
      if (!(error instanceof SubmitError)) throw error;
      result.skipped.push(job);
    }
  }
  return result;
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
