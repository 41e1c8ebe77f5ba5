/**
 * Where a job's files live. The report's attributes are kept: runJob's `chirpUrl` + `inputDir`
 * and storeJobOutputDir's `outputChirpUrl` + `outputDir`. Two forms of address are understood:
 *
 * - HTTP storage (the default): `chirpUrl` is a base URL such as `http://127.0.0.1:8088` and the
 *   directory is a path that embeds a per-job, per-direction token, e.g.
 *   `/storage/input/<jobId>/<token>`. Files are fetched with GET `<base><dir>/<file>` and
 *   uploaded with PUT `<base><dir>/<file>`.
 * - Chirp: `chirpUrl` is `host:port` (the report also shows `host;port`), and the directory is a
 *   path on that Chirp server. The original manager sent it without a leading '/' (`<jobId>`);
 *   Chirp anchors every path at its root, so both spellings name the same directory.
 */
import { assertSafeFileName } from './job-fields';

export type StorageAddress =
  | { kind: 'http'; baseUrl: string; directory: string }
  | { kind: 'chirp'; host: string; port: number; directory: string };

export class StorageAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageAddressError';
  }
}

const DEFAULT_CHIRP_PORT = 9094;

export function parseStorageAddress(url: string, directory: string): StorageAddress {
  if (/^https?:\/\//i.test(url)) {
    const parsed = new URL(url);
    const base = `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
    if (!directory.startsWith('/')) {
      throw new StorageAddressError(`storage directory must start with '/': ${directory}`);
    }
    return { kind: 'http', baseUrl: base, directory };
  }
  const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?:[:;](\d{1,5}))?$/.exec(url);
  if (!match?.[1]) throw new StorageAddressError(`unrecognised storage address ${url}`);
  const port = match[2] === undefined ? DEFAULT_CHIRP_PORT : Number(match[2]);
  if (port < 1 || port > 65535) throw new StorageAddressError(`bad storage port in ${url}`);
  return { kind: 'chirp', host: match[1], port, directory };
}

/** The URL of one file in an HTTP storage directory. The file name must be a safe component. */
export function httpFileUrl(address: { baseUrl: string; directory: string }, file: string): string {
  assertSafeFileName(file);
  const directory = address.directory.replace(/\/+$/, '');
  return `${address.baseUrl}${directory}/${encodeURIComponent(file)}`;
}

/** The path of one file in a Chirp storage directory. The file name must be a safe component. */
export function chirpFilePath(address: { directory: string }, file: string): string {
  assertSafeFileName(file);
  const directory = address.directory.replace(/\/+$/, '');
  if (directory === '') return `/${file}`;
  return `${directory.startsWith('/') ? '' : '/'}${directory}/${file}`;
}
