/**
 * copilot-job-submit --command=calculator.sh [--arguments="a b"] [--packages "p1 p2"]
 *   [--input file]… [--env K=V]… [--requirements expr] [--validation script]
 *   [--number N | --array N] [--owner NAME] [--priority N] [--image REF@sha256:…]
 *   [--wait [--timeout s]] [--config path] [--VARIABLE=value …]
 *
 * The owner defaults to the submitting user's login name; fair share and quotas are per owner.
 * Higher priorities run first among one owner's jobs. --image names the container image, pinned
 * by digest, that agents pull from the project's registry.
 *
 * Copies the command and input files into the job's input storage, queues the job and prints its
 * id. With --wait it then waits for the job and prints its state, exit code and stdout.
 *
 * `--number N` (the original copilot-job-submit's) queues N copies of the job, `--array N` N jobs
 * whose environment has COPILOT_TASK_INDEX=0 … N-1; both share a batch id (`copilot-jobs
 * --batch ID`), printed as `batch <id>` before the N job ids. They are queued at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@copilot/protocol';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import {
  MAX_BATCH,
  submitBatch,
  submitJob,
  waitForJob,
  type BatchRequest,
  type SubmitRequest,
} from '@manager/job-manager/job-submission';
import { MAX_PRIORITY } from '@manager/job-manager/job-record';
import { loadConfigValues, storeConfigFromValues } from '@manager/job-manager/manager-config';
import { openJobQueue } from '@manager/job-manager/open-job-queue';

const USAGE = `usage: copilot-job-submit --command=FILE [--arguments=ARGS] [--packages "P1 P2"]
       [--input FILE]... [--env NAME=VALUE]... [--requirements EXPR] [--validation FILE]
       [--number N | --array N] [--owner NAME] [--priority N] [--image REF@sha256:DIGEST]
       [--wait [--timeout SECONDS]] [--config PATH]
       [--JM_STATE_DIR=DIR ...]
`;

const SINGLE = new Set([
  'command',
  'arguments',
  'requirements',
  'validation',
  'timeout',
  'wait',
  'number',
  'array',
  'owner',
  'priority',
  'image',
]);
const REPEATABLE = new Set(['packages', 'input', 'env']);
const IGNORED = new Set(['chirp-server', 'chirp-dir']);

/** The submitting user's login name, when it is a valid owner; else no owner. */
function defaultOwner(): string | undefined {
  try {
    const name = os.userInfo().username;
    return /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

function priorityOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Math.abs(Number(value)) > MAX_PRIORITY) {
    throw new ConfigError(
      `--priority must be a whole number from -${MAX_PRIORITY} to ${MAX_PRIORITY}`,
      'priority',
    );
  }
  return Number(value);
}

/** --number N or --array N (not both), as a batch; undefined for one job. */
function batchRequestOf(
  number: string | undefined,
  array: string | undefined,
): BatchRequest | undefined {
  if (number !== undefined && array !== undefined) {
    throw new ConfigError('--number and --array cannot be given together', 'array');
  }
  const value = number ?? array;
  if (value === undefined) return undefined;
  const name = number !== undefined ? 'number' : 'array';
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1 || count > MAX_BATCH) {
    throw new ConfigError(`--${name} must be a whole number from 1 to ${MAX_BATCH}`, name);
  }
  return { count, kind: name === 'number' ? 'copies' : 'array' };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const loaded = loadConfigValues(argv, process.env, ['wait']);
  const args = new Map<string, string[]>();
  for (const [name, value] of loaded.all) {
    if (IGNORED.has(name)) {
      process.stderr.write(
        `copilot-job-submit: --${name} is ignored (the manager serves files over HTTP)\n`,
      );
      continue;
    }
    if (!SINGLE.has(name) && !REPEATABLE.has(name))
      throw new ConfigError(`unknown option --${name}\n${USAGE}`, name);
    if (SINGLE.has(name) && args.has(name)) throw new ConfigError(`--${name} given twice`, name);
    args.set(name, [...(args.get(name) ?? []), value]);
  }
  if (loaded.positional.length > 0)
    throw new ConfigError(`unexpected arguments: ${loaded.positional.join(' ')}`);
  const one = (name: string): string | undefined => args.get(name)?.[0];
  const commandFile = one('command');
  if (commandFile === undefined)
    throw new ConfigError(`--command is required\n${USAGE}`, 'command');
  const environment: Record<string, string> = {};
  for (const pair of args.get('env') ?? []) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new ConfigError(`--env needs NAME=VALUE, not ${pair}`, 'env');
    environment[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  const request: SubmitRequest = {
    commandFile,
    arguments: one('arguments') ?? '',
    packages: (args.get('packages') ?? [])
      .flatMap((value) => value.split(/[\s,]+/))
      .filter(Boolean),
    inputFiles: args.get('input') ?? [],
    environment,
  };
  const requirements = one('requirements');
  if (requirements !== undefined) request.requirements = requirements;
  const owner = one('owner') ?? defaultOwner();
  if (owner !== undefined) request.owner = owner;
  const priority = priorityOf(one('priority'));
  if (priority !== undefined) request.priority = priority;
  const image = one('image');
  if (image !== undefined) request.image = image;
  const validation = one('validation');
  if (validation !== undefined) request.validationFile = validation;
  const timeoutSeconds = Number(one('timeout') ?? '600');
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new ConfigError('--timeout must be a positive number of seconds', 'timeout');
  }

  const batch = batchRequestOf(one('number'), one('array'));
  if (batch !== undefined && one('wait') === 'true') {
    throw new ConfigError('--wait waits for one job: not with --number or --array', 'wait');
  }

  const store = storeConfigFromValues(loaded.values);
  const queue = await openJobQueue(store);
  try {
    if (batch !== undefined) {
      const submitted = await submitBatch(
        queue,
        new JobStorePaths(store.storageDir),
        request,
        batch,
      );
      process.stdout.write(
        `batch ${submitted.batch}\n${submitted.jobs.map((job) => job.id).join('\n')}\n`,
      );
      return 0;
    }
    const job = await submitJob(queue, new JobStorePaths(store.storageDir), request);
    process.stdout.write(`${job.id}\n`);
    if (one('wait') !== 'true') return 0;
    const finished = await waitForJob(queue, job.id, timeoutSeconds * 1000);
    if (!finished) {
      process.stderr.write(
        `copilot-job-submit: job ${job.id} not finished after ${timeoutSeconds} s\n`,
      );
      return 2;
    }
    process.stdout.write(`state ${finished.state}\nexitCode ${finished.exitCode ?? ''}\n`);
    const stdout = path.join(store.doneJobDir, job.id, 'stdout');
    if (fs.existsSync(stdout)) process.stdout.write(fs.readFileSync(stdout));
    return finished.state === 'done' ? 0 : 1;
  } finally {
    await queue.close();
  }
}

runIfEntryPoint(import.meta.url, 'copilot-job-submit', main);
