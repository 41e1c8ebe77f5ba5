/** Shared plumbing of the manager's command-line entry points. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, JobFieldError, ClassAdError } from '../../src/protocol';
import { JobQueueError } from './job-queue';
import { JobRecordError } from './job-record';
import { SubmitError } from './job-submission';

/** Errors that are the user's to fix: printed as one line, without a stack. */
function isUserError(error: unknown): error is Error {
  return (
    error instanceof ConfigError ||
    error instanceof JobFieldError ||
    error instanceof ClassAdError ||
    error instanceof JobQueueError ||
    error instanceof JobRecordError ||
    error instanceof SubmitError
  );
}

/** Runs `main` when the module is the process entry point (tsx or a bundled dist/bin file). */
export function runIfEntryPoint(
  moduleUrl: string,
  name: string,
  main: (argv: string[]) => Promise<number>,
): void {
  const entry = process.argv[1];
  if (entry === undefined) return;
  // npm installs bins as symlinks: compare real paths.
  const real = (file: string): string => {
    try {
      return fs.realpathSync(file);
    } catch {
      return file;
    }
  };
  if (real(entry) !== real(fileURLToPath(moduleUrl))) return;
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const text = isUserError(error)
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
      process.stderr.write(`${name}: ${text}\n`);
      process.exitCode = 1;
    },
  );
}
