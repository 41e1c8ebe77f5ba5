/**
 * A job as the manager stores it. Both queue backends keep the record as a flat map of string
 * fields (a Redis hash, a JSON object in SQLite), converted here.
 *
 * States: queued → leased (runJob sent to an agent, lease running) → running (the agent fetched
 * an input file) → uploading (the agent asked for its output directory) → done | failed.
 * A lease that expires puts the job back to queued; cancelled is set by an operator.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { assertSafeFileName, isValidJobId, parsePinnedImage, splitList } from '@copilot/protocol';
import { CopilotError } from '@copilot/base/errors';

export const JOB_STATES = [
  'queued',
  'leased',
  'running',
  'uploading',
  'done',
  'failed',
  'cancelled',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States in which an agent holds the job under a lease. */
export const ACTIVE_STATES: readonly JobState[] = ['leased', 'running', 'uploading'];
export const FINAL_STATES: readonly JobState[] = ['done', 'failed', 'cancelled'];

/** What a submitter gives: the job attributes of runJob (2.2.1.4) plus requirements. */
export interface JobSpec {
  /** File name of the job's executable, stored with the inputs. */
  command: string;
  arguments: string;
  environment: string;
  packages: string;
  /** Whitespace-separated input file names (the command file is always among them). */
  inputFiles: string;
  validation?: string;
  /** ClassAd expression matched against the agent's JDL, e.g. `other.Memory >= 512`. */
  requirements?: string;
  /** The batch a job was submitted in (copilot-job-submit --number/--array). */
  batch?: string;
  /** Who the job is run for: fair share and quotas are per owner (the submitter by default). */
  owner?: string;
  /** Higher runs first among one owner's jobs; 0 when not given. */
  priority?: number;
  /** The container image, pinned by digest (runJob's `image`); the agent's default when unset. */
  image?: string;
}

export interface JobRecord extends JobSpec {
  id: string;
  state: JobState;
  /** Submission order; the queue hands out the lowest first. */
  seq: number;
  submittedAt: number;
  updatedAt: number;
  /** How many times the job was leased. */
  attempts: number;
  /** Full JID of the agent holding (or that last held) the lease. */
  agent?: string;
  /** `<agent JID>|<getJob message id>`: a resent getJob gets the same job. */
  requestKey?: string;
  leaseId?: string;
  leaseExpiresAt?: number;
  inputToken?: string;
  outputToken?: string;
  exitCode?: number;
  /** The state the agent reported in jobDone (e.g. done, failed, validationFailed). */
  agentState?: string;
  finishedAt?: number;
  /** Why the job ended up where it is, for operators. */
  note?: string;
}

/** Fields a transition may set; `null` removes a field. */
export type JobPatch = {
  [K in Exclude<keyof JobRecord, 'id' | 'seq' | 'submittedAt'>]?: JobRecord[K] | null;
};

/** The patch that takes a job back from its agent: no lease, no tokens, no request. */
export const LEASE_RELEASED = {
  agent: null,
  requestKey: null,
  leaseId: null,
  leaseExpiresAt: null,
  inputToken: null,
  outputToken: null,
} as const satisfies JobPatch;

const NUMERIC_FIELDS = new Set([
  'seq',
  'submittedAt',
  'updatedAt',
  'attempts',
  'leaseExpiresAt',
  'exitCode',
  'finishedAt',
  'priority',
]);

export class JobRecordError extends CopilotError {
  constructor(message: string) {
    super('JOB_RECORD_INVALID', message);
    this.name = 'JobRecordError';
  }
}

function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

export function recordToFields(record: JobRecord): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined && value !== null) fields[name] = String(value);
  }
  return fields;
}

/** `null` becomes the empty string, which both backends read as "remove the field". */
export function patchToFields(patch: JobPatch): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    fields[name] = value === null ? '' : String(value);
  }
  return fields;
}

export function recordFromFields(fields: Readonly<Record<string, string>>): JobRecord {
  const state = fields.state ?? '';
  if (!isJobState(state)) throw new JobRecordError(`stored job has unknown state ${state}`);
  const record: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === '') continue;
    if (NUMERIC_FIELDS.has(name)) {
      const number = Number(value);
      if (!Number.isFinite(number))
        throw new JobRecordError(`stored job field ${name} is not a number`);
      record[name] = number;
    } else {
      record[name] = value;
    }
  }
  for (const name of ['id', 'command']) {
    if (typeof record[name] !== 'string') throw new JobRecordError(`stored job has no ${name}`);
  }
  for (const name of ['arguments', 'environment', 'packages', 'inputFiles']) {
    if (record[name] === undefined) record[name] = '';
  }
  for (const name of ['seq', 'submittedAt', 'updatedAt', 'attempts']) {
    if (record[name] === undefined) record[name] = 0;
  }
  // The checks above make this the JobRecord shape.
  return record as unknown as JobRecord;
}

/** Applies a patch in memory (the SQLite backend and tests). */
export function applyPatch(record: JobRecord, patch: JobPatch): JobRecord {
  return recordFromFields({ ...recordToFields(record), ...patchToFields(patch) });
}

/** A new job id: time-ordered, unique, and valid under job-fields rules. */
export function newJobId(now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(5).toString('hex')}`;
}

export function newLeaseId(): string {
  return randomUUID();
}

/** 32 random bytes, base64url: a storage access token. */
export function newStorageToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Checks a spec's names before anything is stored. Throws JobFieldError. */
export function validateJobSpec(spec: JobSpec): void {
  assertSafeFileName(spec.command);
  const inputs = splitList(spec.inputFiles);
  for (const file of inputs) assertSafeFileName(file);
  if (!inputs.includes(spec.command)) {
    throw new JobRecordError(`the command ${spec.command} must be one of the input files`);
  }
  if (spec.validation !== undefined) assertSafeFileName(spec.validation);
  if (spec.batch !== undefined && !isValidJobId(spec.batch)) {
    throw new JobRecordError(`invalid batch id ${JSON.stringify(spec.batch.slice(0, 80))}`);
  }
  if (spec.owner !== undefined && !OWNER_PATTERN.test(spec.owner)) {
    throw new JobRecordError(`invalid owner ${JSON.stringify(spec.owner.slice(0, 80))}`);
  }
  if (
    spec.priority !== undefined &&
    !(Number.isInteger(spec.priority) && Math.abs(spec.priority) <= MAX_PRIORITY)
  ) {
    throw new JobRecordError(
      `priority must be an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`,
    );
  }
  if (spec.image !== undefined) parsePinnedImage(spec.image);
}

/** An owner is an account name or a bare JID: no white space, nothing a log or path misreads. */
const OWNER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
export const MAX_PRIORITY = 1000;

/** jmJobData sent to agents: opaque to them, `lease=<leaseId>` to us. */
export function formatJmJobData(leaseId: string): string {
  return `lease=${leaseId}`;
}

export function leaseIdFromJmJobData(data: string | undefined): string | undefined {
  if (data === undefined) return undefined;
  const match = /(?:^|[;\s])lease=([A-Za-z0-9-]{1,64})(?:$|[;\s])/.exec(data);
  return match?.[1];
}
