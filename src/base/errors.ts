/**
 * The error catalogue. A failure from outside (the XMPP server, the Docker daemon, a config file,
 * the command line) is classified once, where it enters, into an error with a stable `code`;
 * everybody downstream branches on the class or the code, never on message text (GitHub
 * Desktop's `isAuthFailureError`). The codes and their message templates are listed here, as in
 * Fastify's `lib/errors.js`; an error that is the user's to fix, not a bug, carries VS Code's
 * `isExpected` marker and a command line prints it as one line, without a stack.
 *
 * This module imports nothing: every layer, the renderer too, may use it.
 */

interface ErrorDefinition {
  /** `%s` stands for the detail given to `formatError`, in order. */
  readonly template: string;
  /** The user's to fix (or a condition outside us the user must see to), not a bug. */
  readonly expected: boolean;
}

/** Every stable code with its message template. Codes never change once released. */
export const ERROR_CATALOGUE = {
  /** A configuration variable or file is missing or wrong. */
  CONFIG_INVALID: { template: '%s', expected: true },
  /** A command line names an unknown option or command, or a value out of range. */
  USAGE_INVALID: { template: '%s', expected: true },
  /** The XMPP server refused the account's user name or password. */
  XMPP_AUTH_REFUSED: {
    template: 'XMPP login refused for %s: wrong user name or password',
    expected: true,
  },
  /** The XMPP login did not complete: server unreachable, connection cut, no answer in time. */
  XMPP_CONNECT_FAILED: { template: '%s', expected: true },
  /** The Docker daemon does not answer on its socket (not running, gone mid-job). */
  DOCKER_UNAVAILABLE: { template: 'Docker is not reachable: %s', expected: true },
  /** A job attribute (command, input file names, environment) breaks the job-field rules. */
  JOB_FIELD_INVALID: { template: '%s', expected: true },
  /** A ClassAd requirements expression does not parse or cannot be evaluated. */
  CLASSAD_INVALID: { template: '%s', expected: true },
  /** The manager's job queue cannot do what was asked (no such job, wrong state, Redis gone). */
  JOB_QUEUE_FAILED: { template: '%s', expected: true },
  /** A stored job record cannot be read back. */
  JOB_RECORD_INVALID: { template: '%s', expected: true },
  /** A job submission was refused (bad files, bad requirements). */
  JOB_SUBMIT_REFUSED: { template: '%s', expected: true },
  /** An incoming stanza is unusable; ProtocolError's own `code` says how. */
  PROTOCOL_INVALID: { template: '%s', expected: false },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The catalogue's message for `code`, each `%s` replaced by the next detail. */
export function formatError(code: ErrorCode, ...details: readonly string[]): string {
  let next = 0;
  return ERROR_CATALOGUE[code].template.replace(/%s/g, () => details[next++] ?? '');
}

/** An error of ours: a stable `code`, and whether it is expected (the user's, printed bare). */
export class CopilotError extends Error {
  /** The catalogue code, or a finer one of the subclass's own (ProtocolError's). */
  readonly code: string;
  readonly isExpected: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CopilotError';
    this.code = code;
    this.isExpected = ERROR_CATALOGUE[code].expected;
  }
}

/** Whether `error` is the user's to fix rather than a bug: print its message, not its stack. */
export function isExpectedError(error: unknown): error is CopilotError {
  return error instanceof CopilotError && error.isExpected;
}

/** The message of a thrown value, for logs, status lines and replies. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a command line prints for a thrown value: an expected error's message, else the stack. */
export function errorReport(error: unknown): string {
  if (isExpectedError(error)) return error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
