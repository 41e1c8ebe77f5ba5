/**
 * A promise-based client for a Chirp file server (cctools' chirp_server, report 4.1.2): the
 * storage the original Co-Pilot exchanged job files through. One client is one TCP connection;
 * calls are queued and run one at a time, as the protocol is strictly request/reply.
 *
 * - Every reply is parsed strictly (chirp-wire.ts); a negative result is a ChirpError with
 *   `fromServer` true, and the connection stays usable.
 * - Any other failure (timeout, malformed reply, connection lost, a download over its cap) leaves
 *   the connection in an unknown state: it is closed, and later calls fail with ECONNRESET.
 * - `timeoutMs` bounds how long one call waits without progress, not a whole transfer.
 * - Downloads go to a temporary file beside the target and are renamed into place, so a failed
 *   or refused download leaves nothing behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { negotiateAuth, type ChirpAuthMethod, type ChirpIdentity } from './chirp-auth';
import { ChirpError, chirpResultError, type ChirpErrorCode } from './chirp-error';
import { ChirpReader } from './chirp-reader';
import {
  CHIRP_LINE_MAX,
  checkAclRights,
  checkAclSubject,
  encodeChirpPath,
  parseAclLine,
  parseResult,
  parseStat,
  requestLine,
  type ChirpAclEntry,
  type ChirpStat,
} from './chirp-wire';
import { errorMessage } from '../base/errors';

export interface ChirpConnectOptions {
  /** How long the connect, or one call, may wait for the server without progress; default 60 s. */
  timeoutMs?: number;
  /** Entries a directory listing or ACL may have before the reply is refused; default 100,000. */
  maxListEntries?: number;
}

export interface ChirpOpenOptions extends ChirpConnectOptions {
  /** Tried in order; default address, then hostname (what the original agent used). */
  auth?: readonly ChirpAuthMethod[];
}

export interface ChirpDirEntry {
  name: string;
  stat: ChirpStat;
}

const CHUNK_BYTES = 64 * 1024;
export const DEFAULT_CHIRP_AUTH: readonly ChirpAuthMethod[] = ['address', 'hostname'];

function localError(file: string, error: unknown): ChirpError {
  const reason = errorMessage(error);
  return new ChirpError('EIO', `local file ${file}: ${reason}`, undefined, { cause: error });
}

function checkMode(mode: number): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new ChirpError('EINVAL', `bad file mode ${mode}`);
  }
  return mode;
}

const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function connectError(label: string, error: NodeJS.ErrnoException): ChirpError {
  let code: ChirpErrorCode = 'ECONNRESET';
  if (error.code === 'ECONNREFUSED') code = 'ECONNREFUSED';
  else if (UNREACHABLE.has(error.code ?? '')) code = 'EHOSTUNREACH';
  return new ChirpError(code, `cannot connect to Chirp ${label}: ${error.message}`, undefined, {
    cause: error,
  });
}

export class ChirpClient {
  private readonly reader: ChirpReader;
  private readonly timeoutMs: number;
  private readonly maxListEntries: number;
  private queue: Promise<unknown> = Promise.resolve();
  private broken: ChirpError | undefined;
  private identity: ChirpIdentity | undefined;

  private constructor(
    private readonly socket: net.Socket,
    /** `host:port`, for messages. */
    readonly label: string,
    options: ChirpConnectOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxListEntries = options.maxListEntries ?? 100_000;
    this.reader = new ChirpReader(socket);
    socket.on('timeout', () =>
      socket.destroy(
        new ChirpError('ETIMEDOUT', `no progress from Chirp ${label} for ${this.timeoutMs} ms`),
      ),
    );
  }

  /** Opens the TCP connection; call authenticate() before anything else. */
  static connect(
    host: string,
    port: number,
    options: ChirpConnectOptions = {},
  ): Promise<ChirpClient> {
    const label = `${host}:${port}`;
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: host.replace(/^\[(.*)\]$/, '$1'), port });
      const cleanup = (): void => {
        socket.removeListener('error', onError);
        socket.removeListener('timeout', onTimeout);
        socket.removeListener('connect', onConnect);
        socket.setTimeout(0);
      };
      const onError = (error: NodeJS.ErrnoException): void => {
        cleanup();
        socket.destroy();
        reject(connectError(label, error));
      };
      const onTimeout = (): void => {
        cleanup();
        socket.destroy();
        reject(
          new ChirpError('ETIMEDOUT', `connecting to Chirp ${label}: no answer in ${timeoutMs} ms`),
        );
      };
      const onConnect = (): void => {
        cleanup();
        socket.setNoDelay(true);
        resolve(new ChirpClient(socket, label, options));
      };
      socket.setTimeout(timeoutMs);
      socket.once('error', onError);
      socket.once('timeout', onTimeout);
      socket.once('connect', onConnect);
    });
  }

  /** Who the server takes us for, once authenticated. */
  get subject(): string | undefined {
    return this.identity?.subject;
  }

  /** Negotiates the first of `methods` the server accepts (see chirp-auth.ts). */
  authenticate(methods: readonly ChirpAuthMethod[] = DEFAULT_CHIRP_AUTH): Promise<ChirpIdentity> {
    return this.run(
      'authenticate',
      async () => {
        if (this.identity) return this.identity;
        this.identity = await negotiateAuth(
          {
            readLine: () => this.reader.readLine(CHIRP_LINE_MAX),
            write: (text) => this.write(text),
          },
          methods,
        );
        return this.identity;
      },
      false,
    );
  }

  /**
   * Fetches `remotePath` into `localPath` and resolves with its size. A file over `maxBytes` is
   * refused before a byte is written (EFBIG), which closes the connection: the server would
   * otherwise send it all.
   */
  async getFile(remotePath: string, localPath: string, maxBytes: number): Promise<number> {
    const operation = `getfile ${remotePath}`;
    const line = requestLine('getfile', encodeChirpPath(remotePath));
    const temp = path.join(
      path.dirname(localPath),
      `.${path.basename(localPath)}.${crypto.randomBytes(6).toString('hex')}.part`,
    );
    const handle = await fs.open(temp, 'wx', 0o644).catch((error: unknown) => {
      throw localError(localPath, error);
    });
    let open = true;
    try {
      const length = await this.run(operation, async () => {
        await this.write(line);
        const size = await this.readResult(operation);
        if (size > maxBytes) {
          throw new ChirpError(
            'EFBIG',
            `${remotePath} is ${size} bytes, over the limit of ${maxBytes}; connection closed`,
          );
        }
        await this.reader.readInto(size, async (chunk) => {
          await handle.write(chunk).catch((error: unknown) => {
            throw localError(localPath, error);
          });
        });
        return size;
      });
      open = false;
      await handle.close();
      await fs.rename(temp, localPath);
      return length;
    } catch (error) {
      if (open) await handle.close().catch(() => undefined);
      await fs.rm(temp, { force: true });
      throw error instanceof ChirpError ? error : localError(localPath, error);
    }
  }

  /** Uploads `localPath` as `remotePath` (replacing it) and resolves with its size. */
  async putFile(localPath: string, remotePath: string, mode = 0o644): Promise<number> {
    const operation = `putfile ${remotePath}`;
    const encoded = encodeChirpPath(remotePath);
    checkMode(mode);
    const handle = await fs.open(localPath, 'r').catch((error: unknown) => {
      throw localError(localPath, error);
    });
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw localError(localPath, 'not a regular file');
      const size = info.size;
      const line = requestLine('putfile', encoded, mode, size);
      return await this.run(operation, async () => {
        await this.write(line);
        const goAhead = await this.readResult(operation);
        if (goAhead !== 0) throw new ChirpError('EPROTO', `go-ahead was ${goAhead}, not 0`);
        await this.sendFile(handle, size, localPath);
        const stored = await this.readResult(operation);
        if (stored !== size) {
          throw new ChirpError('EPROTO', `the server stored ${stored} of ${size} bytes`);
        }
        return size;
      });
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async mkdir(dirPath: string, mode = 0o755): Promise<void> {
    const line = requestLine('mkdir', encodeChirpPath(dirPath), checkMode(mode));
    await this.simple(`mkdir ${dirPath}`, line);
  }

  async stat(filePath: string): Promise<ChirpStat> {
    const operation = `stat ${filePath}`;
    const line = requestLine('stat', encodeChirpPath(filePath));
    return this.run(operation, async () => {
      await this.write(line);
      await this.readResult(operation);
      return parseStat(await this.reader.readLine(CHIRP_LINE_MAX));
    });
  }

  async unlink(filePath: string): Promise<void> {
    await this.simple(`unlink ${filePath}`, requestLine('unlink', encodeChirpPath(filePath)));
  }

  async rmdir(dirPath: string): Promise<void> {
    await this.simple(`rmdir ${dirPath}`, requestLine('rmdir', encodeChirpPath(dirPath)));
  }

  /** Removes a file or a whole tree. */
  async rmall(targetPath: string): Promise<void> {
    await this.simple(`rmall ${targetPath}`, requestLine('rmall', encodeChirpPath(targetPath)));
  }

  /** Grants `subject` `rights` on a directory (`n` revokes); needs the `a` right there. */
  async setAcl(dirPath: string, subject: string, rights: string): Promise<void> {
    const line = requestLine(
      'setacl',
      encodeChirpPath(dirPath),
      checkAclSubject(subject),
      checkAclRights(rights),
    );
    await this.simple(`setacl ${dirPath}`, line);
  }

  async getAcl(dirPath: string): Promise<ChirpAclEntry[]> {
    const operation = `getacl ${dirPath}`;
    const line = requestLine('getacl', encodeChirpPath(dirPath));
    return this.run(operation, async () => {
      await this.write(line);
      await this.readResult(operation);
      const entries: ChirpAclEntry[] = [];
      for (;;) {
        const entry = await this.reader.readLine(CHIRP_LINE_MAX);
        if (entry === '') return entries;
        this.checkListSize(entries.length);
        entries.push(parseAclLine(entry));
      }
    });
  }

  /** The directory's entries with their stat, without `.`, `..` and Chirp's own `.__` files. */
  async listDir(dirPath: string): Promise<ChirpDirEntry[]> {
    const operation = `getlongdir ${dirPath}`;
    const line = requestLine('getlongdir', encodeChirpPath(dirPath));
    return this.run(operation, async () => {
      await this.write(line);
      await this.readResult(operation);
      const entries: ChirpDirEntry[] = [];
      for (let lines = 0; ; lines += 1) {
        const name = await this.reader.readLine(CHIRP_LINE_MAX);
        if (name === '') return entries;
        this.checkListSize(lines);
        const stat = parseStat(await this.reader.readLine(CHIRP_LINE_MAX));
        if (name !== '.' && name !== '..') entries.push({ name, stat });
      }
    });
  }

  /** The subject the server knows us by (e.g. `address:127.0.0.1`). */
  whoami(): Promise<string> {
    const operation = 'whoami';
    return this.run(operation, async () => {
      await this.write(requestLine('whoami', CHIRP_LINE_MAX));
      const length = await this.readResult(operation);
      if (length > CHIRP_LINE_MAX) throw new ChirpError('EPROTO', `whoami length ${length}`);
      const parts: Buffer[] = [];
      await this.reader.readInto(length, async (chunk) => {
        parts.push(chunk);
      });
      return Buffer.concat(parts).toString('utf8');
    });
  }

  /** Closes the connection; queued calls fail with ECONNRESET. */
  close(): void {
    this.broken ??= new ChirpError('ECONNRESET', 'closed by the client');
    this.socket.destroy();
  }

  private async simple(operation: string, line: string): Promise<void> {
    await this.run(operation, async () => {
      await this.write(line);
      await this.readResult(operation);
    });
  }

  private run<T>(operation: string, body: () => Promise<T>, needsAuth = true): Promise<T> {
    const task = this.queue.then(async () => {
      if (this.broken) {
        throw new ChirpError(
          'ECONNRESET',
          `${operation}: connection unusable: ${this.broken.message}`,
        );
      }
      if (needsAuth && !this.identity) {
        throw new ChirpError('EACCES', `${operation}: not authenticated (call authenticate first)`);
      }
      this.socket.setTimeout(this.timeoutMs);
      try {
        return await body();
      } catch (error) {
        const failure = this.classify(operation, error);
        if (!failure.fromServer) {
          this.broken ??= failure;
          this.socket.destroy();
        }
        throw failure;
      } finally {
        this.socket.setTimeout(0);
      }
    });
    this.queue = task.catch(() => undefined);
    return task;
  }

  private classify(operation: string, error: unknown): ChirpError {
    if (error instanceof ChirpError) {
      if (error.fromServer) return error;
      return new ChirpError(error.code, `${operation}: ${error.message}`, undefined, {
        cause: error.cause ?? error,
      });
    }
    const reason = errorMessage(error);
    return new ChirpError('ECONNRESET', `${operation}: ${reason}`, undefined, { cause: error });
  }

  /** A result line; a negative one becomes the server's error. */
  private async readResult(operation: string): Promise<number> {
    const result = parseResult(await this.reader.readLine(CHIRP_LINE_MAX));
    if (result < 0) throw chirpResultError(operation, result);
    return result;
  }

  private checkListSize(count: number): void {
    if (count >= this.maxListEntries) {
      throw new ChirpError('EPROTO', `reply lists more than ${this.maxListEntries} entries`);
    }
  }

  private async sendFile(handle: fs.FileHandle, size: number, localPath: string): Promise<void> {
    for (let position = 0; position < size;) {
      // A fresh buffer each time: the socket keeps the one it was given until it is sent.
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size - position));
      const { bytesRead } = await handle
        .read(buffer, 0, buffer.length, position)
        .catch((error: unknown) => {
          throw localError(localPath, error);
        });
      if (bytesRead === 0) throw localError(localPath, `shrank to ${position} bytes while sent`);
      await this.write(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  }

  private write(data: string | Buffer): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed) {
      return Promise.reject(new ChirpError('ECONNRESET', 'the connection is closed'));
    }
    if (socket.write(data)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: Error): void => {
        socket.removeListener('drain', onDrain);
        socket.removeListener('close', onClose);
        socket.removeListener('error', settle);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = (): void => settle();
      const onClose = (): void =>
        settle(new ChirpError('ECONNRESET', 'the Chirp server closed the connection'));
      socket.once('drain', onDrain);
      socket.once('close', onClose);
      socket.once('error', settle);
    });
  }
}

/** Connects and authenticates; the connection is closed again when that fails. */
export async function openChirp(
  host: string,
  port: number,
  options: ChirpOpenOptions = {},
): Promise<ChirpClient> {
  const client = await ChirpClient.connect(host, port, options);
  try {
    await client.authenticate(options.auth ?? DEFAULT_CHIRP_AUTH);
    return client;
  } catch (error) {
    client.close();
    throw error;
  }
}
