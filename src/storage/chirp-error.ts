/**
 * The one error type of the Chirp client. A negative result from the server is classified here,
 * where it enters, into an errno-like code (the mapping of cctools' chirp_client.c
 * convert_result); failures on our side of the wire get codes of the same kind. Callers branch
 * on `code`, never on the message.
 */

export type ChirpErrorCode =
  | 'EACCES'
  | 'ENOENT'
  | 'EEXIST'
  | 'EFBIG'
  | 'ENOSPC'
  | 'ENOMEM'
  | 'EINVAL'
  | 'EMFILE'
  | 'EBUSY'
  | 'EAGAIN'
  | 'EBADF'
  | 'EISDIR'
  | 'ENOTDIR'
  | 'ENOTEMPTY'
  | 'EXDEV'
  | 'ESRCH'
  | 'ESPIPE'
  | 'ENOTSUP'
  | 'ENAMETOOLONG'
  /** The connection failed, was closed mid-reply, or was broken by an earlier error. */
  | 'ECONNRESET'
  | 'ECONNREFUSED'
  /** The host name does not resolve, or no route leads to it. */
  | 'EHOSTUNREACH'
  | 'ETIMEDOUT'
  /** The server's reply does not follow the protocol. */
  | 'EPROTO'
  /** A local file could not be read or written, or a result the protocol does not define. */
  | 'EIO';

/** Chirp's negative results (chirp_protocol.h), with the code and a readable description. */
const SERVER_RESULTS: ReadonlyMap<number, readonly [ChirpErrorCode, string]> = new Map([
  [-1, ['EACCES', 'not authenticated']],
  [-2, ['EACCES', 'not authorized']],
  [-3, ['ENOENT', 'no such file or directory']],
  [-4, ['EEXIST', 'already exists']],
  [-5, ['EFBIG', 'too big']],
  [-6, ['ENOSPC', 'no space left or over quota']],
  [-7, ['ENOMEM', 'server out of memory']],
  [-8, ['EINVAL', 'invalid request']],
  [-9, ['EMFILE', 'too many open files']],
  [-10, ['EBUSY', 'busy']],
  [-11, ['EAGAIN', 'try again']],
  [-12, ['EBADF', 'bad file descriptor']],
  [-13, ['EISDIR', 'is a directory']],
  [-14, ['ENOTDIR', 'not a directory']],
  [-15, ['ENOTEMPTY', 'directory not empty']],
  [-16, ['EXDEV', 'cross-device link']],
  [-17, ['ECONNRESET', 'service offline']],
  [-18, ['ECONNRESET', 'timed out']],
  [-19, ['ECONNRESET', 'disconnected']],
  [-20, ['ECONNRESET', 'group unreachable']],
  [-21, ['ESRCH', 'no such job']],
  [-22, ['ESPIPE', 'is a pipe']],
  [-23, ['ENOTSUP', 'not supported']],
  [-24, ['ENAMETOOLONG', 'name too long']],
  [-127, ['ECONNRESET', 'unknown error']],
]);

export class ChirpError extends Error {
  override readonly name = 'ChirpError';

  constructor(
    readonly code: ChirpErrorCode,
    message: string,
    /** The negative result the server sent; undefined when the failure is on our side. */
    readonly serverResult?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The server refused the request; the connection itself is still usable. */
  get fromServer(): boolean {
    return this.serverResult !== undefined;
  }
}

/** The error for a negative result of `operation` (e.g. `getfile /a/b`). */
export function chirpResultError(operation: string, result: number): ChirpError {
  const [code, description] = SERVER_RESULTS.get(result) ?? ['EIO', 'undefined Chirp error'];
  return new ChirpError(code, `${operation}: ${description} (Chirp result ${result})`, result);
}

export function isChirpError(value: unknown): value is ChirpError {
  return value instanceof ChirpError;
}
