/**
 * Moves job files to and from the manager's storage, as src/protocol/storage-url.ts defines it:
 * GET `<chirpUrl><inputDir>/<file>` for inputs, PUT `<outputChirpUrl><outputDir>/<file>` for
 * outputs. Only HTTP storage is spoken; a Chirp address is a clear error.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { httpFileUrl, parseStorageAddress } from '../protocol/storage-url';

export class TransferError extends Error {
  constructor(
    message: string,
    /** HTTP status when the server answered; retrying a 404 is pointless. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TransferError';
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
        req.on('timeout', () => req.destroy(new TransferError(`download of ${file} timed out`)));
        req.on('error', (error) =>
          reject(
            error instanceof TransferError
              ? error
              : new TransferError(
                  `download of ${file} from ${describe(url)} failed: ${error.message}`,
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
        req.on('timeout', () => req.destroy(new TransferError(`upload of ${file} timed out`)));
        req.on('error', (error) =>
          reject(
            error instanceof TransferError
              ? error
              : new TransferError(`upload of ${file} to ${describe(url)} failed: ${error.message}`),
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
