/**
 * Fails the test during which an `uncaughtException` or `unhandledRejection` happened in this
 * test process (or, when it happened between tests, the next test or the file's afterAll).
 *
 * Vitest 4 on its own reports such errors as "Unhandled Errors" and exits 1, but still counts
 * every test as passed, so `tests: N passed, 0 failed` hides them and nobody knows which test to
 * look at. A server that a client can crash must turn its own test red.
 */
import { afterAll, afterEach } from 'vitest';

interface Recorded {
  kind: 'uncaughtException' | 'unhandledRejection';
  error: unknown;
}

const STORE = Symbol.for('copilot.test.uncaughtErrors');

/** One listener pair per process, even when a worker runs several test files. */
function recordedErrors(): Recorded[] {
  const holder = process as unknown as Record<symbol, Recorded[] | undefined>;
  const existing = holder[STORE];
  if (existing) return existing;
  const errors: Recorded[] = [];
  holder[STORE] = errors;
  process.on('uncaughtException', (error) => errors.push({ kind: 'uncaughtException', error }));
  process.on('unhandledRejection', (error) => errors.push({ kind: 'unhandledRejection', error }));
  return errors;
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export function throwRecordedErrors(): void {
  const errors = recordedErrors();
  if (errors.length === 0) return;
  const report = errors
    .splice(0)
    .map(({ kind, error }) => `${kind}: ${describeError(error)}`)
    .join('\n');
  throw new Error(`the test process had an error nobody handled:\n${report}`);
}

recordedErrors();
afterEach(throwRecordedErrors);
afterAll(throwRecordedErrors);
