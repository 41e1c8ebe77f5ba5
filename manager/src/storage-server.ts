/**
 * The manager's HTTP storage (node:http, no framework). URL convention, shared with the agent
 * through src/protocol/storage-url.ts:
 *
 * - GET  `<chirpUrl><inputDir>/<file>`        with inputDir  = `/storage/input/<jobId>/<token>`
 * - PUT  `<outputChirpUrl><outputDir>/<file>` with outputDir = `/storage/output/<jobId>/<token>`
 *
 * Tokens are 32 random bytes (base64url), one per job and direction, issued with runJob
 * (input) and storeJobOutputDir (output), stored in the job record and compared in constant
 * time. A new lease gets new tokens, so an agent whose lease expired can no longer read or
 * write. File names must pass isSafeFileName; every file stays in the job's own directory.
 * Uploads stream to a temp file that is renamed into place when complete; an upload bigger than
 * the per-file cap, or one that would take the job's outputs over the per-job cap (checked as it
 * streams and again, one upload of the job at a time, before it is put in place), gets 413 and
 * its partial file is removed. Reads and writes renew the job's lease.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isSafeFileName, isValidJobId } from '../../src/protocol';
import type { Logger } from '../../src/transport';
import { ACTIVE_STATES, type JobRecord } from './job-record';
import { renewLease, type JobQueue } from './job-queue';
import type { JobStorePaths, StorageDirection } from './job-store-paths';

export interface StorageServerOptions {
  queue: JobQueue;
  paths: JobStorePaths;
  logger: Logger;
  leaseMs: number;
  maxUploadBytes: number;
  maxJobBytes: number;
  /** Which routes this instance answers: a job-only manager serves inputs, a storage one outputs. */
  serveInput: boolean;
  acceptOutput: boolean;
  port: number;
  host: string;
  /** A request that sends nothing for this long is cut off (default 2 minutes). */
  idleTimeoutMs?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ROUTE = /^\/storage\/(input|output)\/([^/]+)\/([^/]+)\/([^/]+)$/;

/** The inputDir / outputDir handed to agents; ROUTE reads it back, with the file name after it. */
export function storageDirOf(direction: StorageDirection, jobId: string, token: string): string {
  return `/storage/${direction}/${jobId}/${token}`;
}

/** Constant-time token comparison (digests first, so lengths never leak). */
export function tokensEqual(expected: string | undefined, given: string): boolean {
  if (expected === undefined || expected === '') return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

export interface StorageRequestTarget {
  direction: StorageDirection;
  jobId: string;
  token: string;
  fileName: string;
}

/** Parses and validates a storage URL path; throws HttpError 400/404. */
export function parseStoragePath(pathname: string): StorageRequestTarget {
  const match = ROUTE.exec(pathname);
  if (!match) throw new HttpError(404, 'not a storage path');
  let parts: string[];
  try {
    parts = match.slice(2, 5).map((part) => decodeURIComponent(part));
  } catch {
    throw new HttpError(400, 'bad percent-encoding');
  }
  const [jobId = '', token = '', fileName = ''] = parts;
  if (!isValidJobId(jobId)) throw new HttpError(400, 'invalid job id');
  if (!isSafeFileName(fileName)) throw new HttpError(400, 'unsafe file name');
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(token)) throw new HttpError(403, 'bad token');
  return { direction: match[1] === 'input' ? 'input' : 'output', jobId, token, fileName };
}

async function directoryBytes(dir: string, except: string): Promise<number> {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.isFile() || entry.name === except || entry.name.startsWith('.')) continue;
    total += (await fs.promises.stat(path.join(dir, entry.name))).size;
  }
  return total;
}

export class StorageServer {
  private readonly server: http.Server;
  /** Bytes being uploaded right now, per job, so parallel uploads share the job's cap. */
  private readonly inFlight = new Map<string, number>();
  /** The last upload of each job being put in place: they are checked and renamed one by one. */
  private readonly commits = new Map<string, Promise<unknown>>();
  private boundPort = 0;

  constructor(private readonly options: StorageServerOptions) {
    this.server = http.createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        const message = error instanceof Error ? error.message : String(error);
        if (status >= 500) this.options.logger.error('storage request failed', { error: message });
        else
          this.options.logger.warn('storage request refused', {
            status,
            reason: message,
            // The token stays out of the log: a refused upload (413) may hold a valid one.
            url: request.url?.replace(/^(\/storage\/\w+\/[^/]+\/)[^/]+/, '$1…'),
          });
        if (!response.headersSent) {
          response.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
        }
        response.end(`${message}\n`, () => {
          if (!request.complete) request.socket.destroy();
        });
      });
    });
    // Outputs may be gigabytes on a slow link: no limit on a whole request (Node's default cuts
    // any upload at 5 minutes), only on silence, so a stalled client does not hold a socket.
    this.server.requestTimeout = 0;
    this.server.setTimeout(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, (socket) =>
      socket.destroy(),
    );
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this.boundPort;
  }

  /**
   * The base URL to advertise when JM_STORAGE_URL is not set: the bound address, or this
   * machine's host name when bound to every interface (as copilot-job-submit did in the report).
   */
  defaultBaseUrl(): string {
    const bound = this.options.host;
    const host = bound === '0.0.0.0' || bound === '::' || bound === '' ? os.hostname() : bound;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const pathname = new URL(request.url ?? '/', 'http://storage').pathname;
    const target = parseStoragePath(pathname);
    const method = request.method ?? 'GET';
    if (target.direction === 'input' && method !== 'GET' && method !== 'HEAD') {
      throw new HttpError(405, 'inputs are read with GET');
    }
    if (target.direction === 'output' && method !== 'PUT') {
      throw new HttpError(405, 'outputs are written with PUT');
    }
    if (target.direction === 'input' && !this.options.serveInput) {
      throw new HttpError(404, 'this manager does not serve job inputs');
    }
    if (target.direction === 'output' && !this.options.acceptOutput) {
      throw new HttpError(404, 'this manager does not accept job outputs');
    }
    const job = await this.options.queue.get(target.jobId);
    if (!job) throw new HttpError(404, 'unknown job');
    const expected = target.direction === 'input' ? job.inputToken : job.outputToken;
    if (!tokensEqual(expected, target.token)) throw new HttpError(403, 'wrong token');
    if (!ACTIVE_STATES.includes(job.state)) throw new HttpError(409, `job is ${job.state}`);
    if (target.direction === 'input') await this.serveInput(job, target, method, response);
    else await this.acceptOutput(job, target, request, response);
  }

  private async extendLease(job: JobRecord, state?: 'running'): Promise<void> {
    if (job.leaseId === undefined) return;
    await renewLease(this.options.queue, job, this.options.leaseMs, state);
  }

  private async serveInput(
    job: JobRecord,
    target: StorageRequestTarget,
    method: string,
    response: http.ServerResponse,
  ): Promise<void> {
    const file = this.options.paths.file(job.id, 'input', target.fileName);
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch {
      throw new HttpError(404, 'no such input file');
    }
    if (!stat.isFile()) throw new HttpError(404, 'no such input file');
    await this.extendLease(job, 'running');
    response.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(stat.size),
    });
    if (method === 'HEAD') {
      response.end();
      return;
    }
    await pipeline(fs.createReadStream(file), response);
  }

  private async oneCommitAtATime(jobId: string, commit: () => Promise<void>): Promise<void> {
    const run = (this.commits.get(jobId) ?? Promise.resolve()).then(commit);
    const settled = run.catch(() => undefined);
    this.commits.set(jobId, settled);
    try {
      await run;
    } finally {
      if (this.commits.get(jobId) === settled) this.commits.delete(jobId);
    }
  }

  private async acceptOutput(
    job: JobRecord,
    target: StorageRequestTarget,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const { maxUploadBytes, maxJobBytes, paths } = this.options;
    const dir = paths.dir(job.id, 'output');
    const final = paths.file(job.id, 'output', target.fileName);
    await fs.promises.mkdir(dir, { recursive: true });
    const stored = await directoryBytes(dir, target.fileName);
    const inFlight = this.inFlight;
    const othersInFlight = inFlight.get(job.id) ?? 0;
    const limit = Math.max(0, Math.min(maxUploadBytes, maxJobBytes - stored - othersInFlight));
    const tooBig = (): HttpError =>
      new HttpError(413, `upload exceeds the limit of ${limit} bytes for this file`);
    const declared = Number(request.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) throw tooBig();
    const temp = path.join(dir, `.upload-${randomBytes(8).toString('hex')}`);
    let received = 0;
    const jobId = job.id;
    try {
      const out = fs.createWriteStream(temp, { flags: 'wx', mode: 0o600 });
      await pipeline(
        request,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            received += chunk.length;
            // Parallel uploads of the same job share its cap.
            inFlight.set(jobId, (inFlight.get(jobId) ?? 0) + chunk.length);
            const othersNow = (inFlight.get(jobId) ?? 0) - received;
            if (received > maxUploadBytes || stored + othersNow + received > maxJobBytes) {
              throw tooBig();
            }
            yield chunk;
          }
        },
        out,
      );
      // What is on disk now (uploads that started with this one may have finished since) plus
      // what is still in flight must stay within the job's cap.
      await this.oneCommitAtATime(jobId, async () => {
        const othersNow = (inFlight.get(jobId) ?? 0) - received;
        if ((await directoryBytes(dir, target.fileName)) + othersNow + received > maxJobBytes) {
          throw tooBig();
        }
        await fs.promises.rename(temp, final);
      });
    } catch (error) {
      await fs.promises.rm(temp, { force: true });
      throw error;
    } finally {
      const left = (inFlight.get(jobId) ?? 0) - received;
      if (left > 0) inFlight.set(jobId, left);
      else inFlight.delete(jobId);
    }
    await this.extendLease(job);
    this.options.logger.debug('output stored', {
      job: job.id,
      file: target.fileName,
      bytes: received,
    });
    response.writeHead(201, { 'content-type': 'text/plain' });
    response.end('stored\n');
  }
}
