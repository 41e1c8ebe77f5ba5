/**
 * Moves job files to and from the manager's storage, as src/protocol/storage-url.ts defines it.
 * HTTP storage: GET `<chirpUrl><inputDir>/<file>` for inputs, PUT
 * `<outputChirpUrl><outputDir>/<file>` for outputs. Chirp storage (a `host:port` address, report
 * 4.1.2): getfile `<inputDir>/<file>` and putfile `<outputDir>/<file>`, one connection per file,
 * authenticated as the original agent was (by address). storageClient() picks by the address.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { chirpFilePath, httpFileUrl, parseStorageAddress } from '../protocol/storage-url';
import type { StorageAddress } from '../protocol/storage-url';
import { ChirpError, DEFAULT_CHIRP_AUTH, openChirp, type ChirpErrorCode } from '../storage';
import type { ChirpAuthMethod, ChirpClient } from '../storage';

export class TransferError extends Error {
  /** The storage could not be reached or did not answer in time: it may be back soon. */
  unreachable = false;

  constructor(
    message: string,
    /** HTTP status when the server answered; retrying a 404 is pointless. */
    readonly status?: number,
    /** `cause` is the ChirpError for Chirp storage (its `code` says ENOENT, EACCES, …). */
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TransferError';
  }

  static unreachable(message: string, cause?: unknown): TransferError {
    const error = new TransferError(message, undefined, { cause });
    error.unreachable = true;
    return error;
  }

  /** Worth trying again later: no answer, or the server said it is busy or failing. */
  get transient(): boolean {
    const status = this.status;
    if (status === undefined) return this.unreachable;
    return status >= 500 || status === 408 || status === 429;
  }
}

export interface StorageClient {
  /** Fetches one file to `destination`; fails when it is larger than `maxBytes`. */
  download(
    baseUrl: string,
    directory: string,
    file: string,
    destination: string,
    maxBytes: number,
  ): Promise<number>;
  /** Uploads one local file. */
  upload(baseUrl: string, directory: string, file: string, source: string): Promise<number>;
}

function fileUrl(baseUrl: string, directory: string, file: string): URL {
  const address = parseStorageAddress(baseUrl, directory);
  if (address.kind !== 'http') {
    throw new TransferError(
      `storage ${baseUrl} is a Chirp server; this agent speaks only HTTP storage`,
    );
  }
  return new URL(httpFileUrl(address, file));
}

function request(url: URL, options: http.RequestOptions): http.ClientRequest {
  return url.protocol === 'https:' ? https.request(url, options) : http.request(url, options);
}

/** Keeps the URL's path out of messages: it embeds the storage token. */
function describe(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

export function httpStorageClient(timeoutMs = 60_000): StorageClient {
  return {
    download(baseUrl, directory, file, destination, maxBytes) {
      const url = fileUrl(baseUrl, directory, file);
      return new Promise<number>((resolve, reject) => {
        const req = request(url, { method: 'GET', timeout: timeoutMs });
        req.on('timeout', () =>
          req.destroy(TransferError.unreachable(`download of ${file} timed out`)),
        );
        req.on('error', (error) =>
          reject(
            error instanceof TransferError
              ? error
              : TransferError.unreachable(
                  `download of ${file} from ${describe(url)} failed: ${error.message}`,
                  error,
                ),
          ),
        );
        req.on('response', (response) => {
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            response.resume();
            reject(
              new TransferError(
                `download of ${file} from ${describe(url)} failed: HTTP ${status}`,
                status,
              ),
            );
            return;
          }
          const declared = Number(response.headers['content-length'] ?? NaN);
          if (Number.isFinite(declared) && declared > maxBytes) {
            response.destroy();
            reject(
              new TransferError(
                `input ${file} is ${declared} bytes, over the disk cap of ${maxBytes}`,
              ),
            );
            return;
          }
          let bytes = 0;
          const counter = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              bytes += chunk.length;
              if (bytes > maxBytes) {
                callback(
                  new TransferError(`input ${file} is over the disk cap of ${maxBytes} bytes`),
                );
              } else callback(null, chunk);
            },
          });
          pipeline(response, counter, fs.createWriteStream(destination, { mode: 0o644 }))
            .then(() => resolve(bytes))
            .catch((error: unknown) => {
              fs.rmSync(destination, { force: true });
              reject(
                error instanceof TransferError
                  ? error
                  : new TransferError(`download of ${file} failed: ${String(error)}`),
              );
            });
        });
        req.end();
      });
    },

    upload(baseUrl, directory, file, source) {
      const url = fileUrl(baseUrl, directory, file);
      const size = fs.statSync(source).size;
      return new Promise<number>((resolve, reject) => {
        const req = request(url, {
          method: 'PUT',
          timeout: timeoutMs,
          headers: { 'content-length': String(size), 'content-type': 'application/octet-stream' },
        });
        req.on('timeout', () =>
          req.destroy(TransferError.unreachable(`upload of ${file} timed out`)),
        );
        req.on('error', (error) =>
          reject(
            error instanceof TransferError
              ? error
              : TransferError.unreachable(
                  `upload of ${file} to ${describe(url)} failed: ${error.message}`,
                  error,
                ),
          ),
        );
        req.on('response', (response) => {
          const status = response.statusCode ?? 0;
          response.resume();
          if (status >= 200 && status < 300) resolve(size);
          else
            reject(
              new TransferError(
                `upload of ${file} to ${describe(url)} failed: HTTP ${status}`,
                status,
              ),
            );
        });
        fs.createReadStream(source)
          .on('error', (error) => req.destroy(error))
          .pipe(req);
      });
    },
  };
}

export interface ChirpStorageOptions {
  /** Per call, without progress (see ChirpClient); default 60 s. */
  timeoutMs?: number;
  /** Default: address, then hostname. */
  auth?: readonly ChirpAuthMethod[];
}

function chirpAddress(baseUrl: string, directory: string): StorageAddress & { kind: 'chirp' } {
  const address = parseStorageAddress(baseUrl, directory);
  if (address.kind !== 'chirp') {
    throw new TransferError(`storage ${baseUrl} is not a Chirp address (host:port)`);
  }
  return address;
}

/** Chirp failures of the connection or a busy server, not of the request. */
const CHIRP_UNREACHABLE: ReadonlySet<ChirpErrorCode> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EBUSY',
  'EAGAIN',
]);

async function withChirp<T>(
  address: StorageAddress & { kind: 'chirp' },
  options: ChirpStorageOptions,
  action: string,
  use: (client: ChirpClient) => Promise<T>,
): Promise<T> {
  let client: ChirpClient | undefined;
  try {
    client = await openChirp(address.host, address.port, {
      timeoutMs: options.timeoutMs ?? 60_000,
      auth: options.auth ?? DEFAULT_CHIRP_AUTH,
    });
    return await use(client);
  } catch (error) {
    if (!(error instanceof ChirpError)) throw error;
    const message = `${action} on Chirp ${address.host}:${address.port} failed: ${error.message}`;
    if (CHIRP_UNREACHABLE.has(error.code)) throw TransferError.unreachable(message, error);
    throw new TransferError(message, undefined, { cause: error });
  } finally {
    client?.close();
  }
}

export function chirpStorageClient(options: ChirpStorageOptions = {}): StorageClient {
  return {
    async download(baseUrl, directory, file, destination, maxBytes) {
      const address = chirpAddress(baseUrl, directory);
      const remote = chirpFilePath(address, file);
      return await withChirp(address, options, `download of ${file}`, (client) =>
        client.getFile(remote, destination, maxBytes),
      );
    },
    async upload(baseUrl, directory, file, source) {
      const address = chirpAddress(baseUrl, directory);
      const remote = chirpFilePath(address, file);
      return await withChirp(address, options, `upload of ${file}`, (client) =>
        client.putFile(source, remote, 0o644),
      );
    },
  };
}

/** HTTP or Chirp, chosen for each call by the form of the storage address. */
export function storageClient(
  options: { timeoutMs?: number; chirp?: ChirpStorageOptions } = {},
): StorageClient {
  const http = httpStorageClient(options.timeoutMs);
  const chirp = chirpStorageClient({ timeoutMs: options.timeoutMs, ...options.chirp });
  const pick = (baseUrl: string, directory: string): StorageClient =>
    parseStorageAddress(baseUrl, directory).kind === 'chirp' ? chirp : http;
  return {
    download: async (baseUrl, directory, file, destination, maxBytes) =>
      pick(baseUrl, directory).download(baseUrl, directory, file, destination, maxBytes),
    upload: async (baseUrl, directory, file, source) =>
      pick(baseUrl, directory).upload(baseUrl, directory, file, source),
  };
}
