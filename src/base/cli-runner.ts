/** Running a command-line entry point: main() when the module is the process entry point. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorReport } from './errors';

function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

/** The module is the process entry point (tsx, a bundled dist/bin file, or npm's bin symlink). */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  // npm installs bins as symlinks: compare real paths.
  return entry !== undefined && realPath(entry) === realPath(fileURLToPath(moduleUrl));
}

/** Runs `main` when the module is the process entry point (tsx or a bundled dist/bin file). */
export function runIfEntryPoint(
  moduleUrl: string,
  name: string,
  main: (argv: string[]) => Promise<number>,
): void {
  if (!isEntryPoint(moduleUrl)) return;
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // An expected error (the user's to fix) is one line; anything else is a bug: its stack.
      process.stderr.write(`${name}: ${errorReport(error)}\n`);
      process.exitCode = 1;
    },
  );
}
