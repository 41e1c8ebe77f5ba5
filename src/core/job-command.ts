/**
 * How a job's command becomes an argv array in the container. Nothing here is ever handed to a
 * shell: the command and its arguments are separate argv entries.
 *
 * - The command names one of the job's input files: it is made executable and run as
 *   `./<command> args...` when it starts with `#!` or is an ELF binary; otherwise it is read by
 *   `/bin/sh ./<command> args...` (a script without an interpreter line).
 * - The command is an absolute path (`/usr/bin/env`) or a bare program name (`echo`): it is run
 *   from the image as is.
 *
 * The job asks for network access with `COPILOT_NETWORK=1` in its environment; whether it gets it
 * is the volunteer's decision (the allowJobNetwork setting, off by default).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobDescription } from '../protocol/commands';
import { JobFieldError, isSafeFileName, parseEnvironment, splitList } from '../protocol/job-fields';

export const NETWORK_REQUEST_VARIABLE = 'COPILOT_NETWORK';

const ABSOLUTE_PROGRAM = /^(\/[A-Za-z0-9_][A-Za-z0-9._+-]*)+$/;

export interface JobCommandPlan {
  argv: string[];
  env: Record<string, string>;
  wantsNetwork: boolean;
  /** argv of the validation script, when the job has one. */
  validationArgv?: string[];
}

function startsLikeExecutable(file: string): boolean {
  const handle = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const read = fs.readSync(handle, head, 0, 4, 0);
    const bytes = head.subarray(0, read);
    return (
      bytes.subarray(0, 2).toString('latin1') === '#!' ||
      bytes.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
    );
  } finally {
    fs.closeSync(handle);
  }
}

/** argv for a program that may be one of the downloaded inputs in `inputDir`. */
export function programArgv(program: string, args: readonly string[], inputDir: string): string[] {
  if (isSafeFileName(program)) {
    const file = path.join(inputDir, program);
    if (fs.existsSync(file) && fs.statSync(file).isFile()) {
      if (startsLikeExecutable(file)) {
        fs.chmodSync(file, 0o755);
        return [`./${program}`, ...args];
      }
      return ['/bin/sh', `./${program}`, ...args];
    }
    return [program, ...args];
  }
  if (ABSOLUTE_PROGRAM.test(program) && !program.split('/').includes('..')) {
    return [program, ...args];
  }
  throw new JobFieldError(
    `job command ${JSON.stringify(program)} is neither a file name nor an absolute path`,
  );
}

/** Plans the job's command, after its inputs are in `inputDir`. Bad fields throw JobFieldError. */
export function planJobCommand(job: JobDescription, inputDir: string): JobCommandPlan {
  const env = parseEnvironment(job.environment);
  const argv = programArgv(job.command, splitList(job.arguments), inputDir);
  const plan: JobCommandPlan = { argv, env, wantsNetwork: env[NETWORK_REQUEST_VARIABLE] === '1' };
  if (job.validation !== undefined && job.validation !== '') {
    if (!isSafeFileName(job.validation)) {
      throw new JobFieldError(`unsafe validation script name ${JSON.stringify(job.validation)}`);
    }
    if (!fs.existsSync(path.join(inputDir, job.validation))) {
      throw new JobFieldError(`validation script ${job.validation} is not among the job's inputs`);
    }
    plan.validationArgv = programArgv(job.validation, [], inputDir);
  }
  return plan;
}

/**
 * The job's input file names, each checked to be a safe single path component. The original
 * copilot-job-submit joined them with `###` (and the original agent split on it), so that
 * separates names too.
 */
export function inputFileNames(job: JobDescription): string[] {
  const names = splitList(job.inputFiles.replaceAll('###', ' '));
  for (const name of names) {
    if (!isSafeFileName(name))
      throw new JobFieldError(`unsafe input file name ${JSON.stringify(name)}`);
  }
  return [...new Set(names)];
}
