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
 * its partial file is removed. So does a new file past the per-job file count. Reads and writes
 * renew the job's lease.
 *
 * Nothing a client sends may stop the manager: every refusal is an answer or a closed
 * connection. A client gets at most `maxConnectionsPerClient` connections at a time (more are
 * answered 503 and closed); headers must arrive within the idle timeout, and a body must bring
 * `minUploadBytesPerIdleTimeout` bytes in every idle timeout, so a client dripping bytes cannot
 * hold a connection for good. Upload temp files left by a killed manager are removed at start.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isSafeFileName, isValidJobId } from '@copilot/protocol';
import type { Logger } from '@copilot/base/logger';
import { ACTIVE_STATES, type JobRecord } from './job-record';
import { renewalDue, renewLease, type JobQueue } from './job-queue';
import type { JobStorePaths, StorageDirection } from './job-store-paths';
import { errorMessage } from '@copilot/base/errors';

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
  /** An upload bringing fewer bytes than this in an idle timeout is cut off (default 1 KiB). */
  minUploadBytesPerIdleTimeout?: number;
  /** Concurrent connections allowed from one remote address (default 16). */
  maxConnectionsPerClient?: number;
  /** Output files one job may store (default 1000). */
  maxFilesPerJob?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
const DEFAULT_MIN_UPLOAD_BYTES_PER_IDLE_TIMEOUT = 1024;
// Many volunteers may share one address (a campus NAT, carrier-grade NAT, a test machine's
// loopback): 16 refused the uploads of a hundred agents on one host, which do not retry a 503.
const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 256;
const DEFAULT_MAX_FILES_PER_JOB = 1000;
/** Node's own default; a longer idle timeout must not give headers more time. */
const MAX_HEADERS_TIMEOUT_MS = 60_000;
/** How long a refused connection may stay open for its 503 to be read. */
const REFUSED_GRACE_MS = 1_000;
const UPLOAD_TEMP_PREFIX = '.upload-';
const SERVICE_UNAVAILABLE = [
  'HTTP/1.1 503 Service Unavailable',
  'Content-Type: text/plain',
  'Connection: close',
  'Content-Length: 30',
  '',
  'too many connections from you\n',
].join('\r\n');

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

interface OutputUsage {
  bytes: number;
  files: number;
}

/** What a job's stored outputs take, leaving out `except` (the file being replaced) and temps. */
async function outputUsage(dir: string, except: string): Promise<OutputUsage> {
  const usage = { bytes: 0, files: 0 };
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch {
    return usage;
  }
  for (const entry of entries) {
    if (!entry.isFile() || entry.name === except || entry.name.startsWith('.')) continue;
    usage.bytes += (await fs.promises.stat(path.join(dir, entry.name))).size;
    usage.files += 1;
  }
  return usage;
}

/** Removes the upload temp files a killed manager left in the jobs' output directories. */
export async function removeUploadLeftovers(paths: JobStorePaths): Promise<number> {
  let jobs: fs.Dirent[];
  try {
    jobs = await fs.promises.readdir(paths.storageDir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let removed = 0;
  for (const job of jobs) {
    if (!job.isDirectory() || !isValidJobId(job.name)) continue;
    const dir = paths.dir(job.name, 'output');
    const names = await fs.promises.readdir(dir).catch((): string[] => []);
    for (const name of names.filter((entry) => entry.startsWith(UPLOAD_TEMP_PREFIX))) {
      await fs.promises.rm(path.join(dir, name), { force: true });
      removed += 1;
    }
  }
  return removed;
}

function requestPath(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://storage').pathname;
  } catch {
    throw new HttpError(400, 'bad request target');
  }
}

/** Counts open connections per remote address. */
class ConnectionGate {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  admit(socket: Socket): boolean {
    const client = socket.remoteAddress ?? 'unknown';
    const count = this.open.get(client) ?? 0;
    if (count >= this.max) return false;
    this.open.set(client, count + 1);
    socket.once('close', () => {
      const left = (this.open.get(client) ?? 1) - 1;
      if (left > 0) this.open.set(client, left);
      else this.open.delete(client);
    });
    return true;
  }
}

function refuseConnection(socket: Socket): void {
  socket.on('error', () => undefined);
  // What the client sends is read and dropped: closing on unread data would reset the 503 away.
  socket.resume();
  socket.once('end', () => socket.destroy());
  socket.end(SERVICE_UNAVAILABLE);
  const timer = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS);
  socket.once('close', () => clearTimeout(timer));
}

interface RateWatch {
  count(bytes: number): void;
  stop(): void;
}

/** Cuts `request` off when a whole window brings fewer than `minBytes` of its body. */
function watchUploadRate(
  request: http.IncomingMessage,
  windowMs: number,
  minBytes: number,
): RateWatch {
  let bytes = 0;
  const timer = setInterval(() => {
    if (!request.complete && bytes < minBytes) {
      request.destroy(new HttpError(408, 'upload too slow'));
    }
    bytes = 0;
  }, windowMs);
  return {
    count: (received) => {
      bytes += received;
    },
    stop: () => clearInterval(timer),
  };
}

/** One upload under way: where it goes and how much of it has arrived. */
interface Upload {
  jobId: string;
  dir: string;
  fileName: string;
  temp: string;
  received: number;
}

interface Room {
  storedBytes: number;
  /** Bytes this upload may have in all. */
  limit: number;
}

export class StorageServer {
  private readonly server: http.Server;
  /** Bytes being uploaded right now, per job, so parallel uploads share the job's cap. */
  private readonly inFlight = new Map<string, number>();
  /** The last upload of each job being put in place: they are checked and renamed one by one. */
  private readonly commits = new Map<string, Promise<unknown>>();
  private readonly idleTimeoutMs: number;
  private boundPort = 0;

  constructor(private readonly options: StorageServerOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    const headersTimeout = Math.min(this.idleTimeoutMs, MAX_HEADERS_TIMEOUT_MS);
    this.server = http.createServer(
      {
        headersTimeout,
        connectionsCheckingInterval: Math.max(10, Math.floor(headersTimeout / 2)),
        // Outputs may be gigabytes on a slow link: no limit on a whole request (Node's default
        // cuts any upload at 5 minutes), only on silence and on a body too slow to matter.
        requestTimeout: 0,
      },
      (request, response) => this.onRequest(request, response),
    );
    this.server.setTimeout(this.idleTimeoutMs, (socket) => socket.destroy());
    this.gateConnections(options.maxConnectionsPerClient ?? DEFAULT_MAX_CONNECTIONS_PER_CLIENT);
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<number> {
    if (this.options.acceptOutput) {
      const removed = await removeUploadLeftovers(this.options.paths);
      if (removed > 0) this.options.logger.info('removed unfinished uploads', { files: removed });
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // Accepting can fail (EMFILE under a flood): without a listener that would end the process.
    this.server.on('error', (error) =>
      this.options.logger.error('storage server error', { error: error.message }),
    );
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

  /** Puts the per-client cap in front of node:http's own handling of a new connection. */
  private gateConnections(max: number): void {
    const gate = new ConnectionGate(max);
    const [handleHttp] = this.server.listeners('connection');
    if (handleHttp === undefined) throw new Error('node:http has no connection handler to gate');
    this.server.removeAllListeners('connection');
    this.server.on('connection', (socket: Socket) => {
      if (gate.admit(socket)) Reflect.apply(handleHttp, this.server, [socket]);
      else refuseConnection(socket);
    });
  }

  private onRequest(request: http.IncomingMessage, response: http.ServerResponse): void {
    // Taken now: node:http unlinks request.socket once the response has been sent.
    const socket = request.socket;
    this.handle(request, response).catch((error: unknown) =>
      this.refuse(request, response, socket, error),
    );
  }

  private refuse(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    socket: Socket,
    error: unknown,
  ): void {
    const status = error instanceof HttpError ? error.status : 500;
    const message = errorMessage(error);
    this.logRefusal(request, status, message);
    if (response.headersSent) {
      // A body already under way cannot carry the error: cutting it short tells the client.
      socket.destroy();
      return;
    }
    response.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
    response.end(`${message}\n`, () => {
      // The rest of an unfinished body is not worth reading.
      if (!request.complete) socket.destroy();
    });
  }

  private logRefusal(request: http.IncomingMessage, status: number, reason: string): void {
    if (status >= 500) {
      this.options.logger.error('storage request failed', { error: reason });
      return;
    }
    this.options.logger.warn('storage request refused', {
      status,
      reason,
      // The token stays out of the log: a refused upload (413) may hold a valid one.
      url: request.url?.replace(/^(\/storage\/\w+\/[^/]+\/)[^/]+/, '$1…'),
    });
  }

  private async handle(
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const target = parseStoragePath(requestPath(request.url));
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
    // Only renewed (no new state): not written again when it was renewed moments ago.
    if (state === undefined && !renewalDue(job, this.options.leaseMs)) return;
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
    const dir = this.options.paths.dir(job.id, 'output');
    const final = this.options.paths.file(job.id, 'output', target.fileName);
    // getJobOutputDir made the directory; receive makes it again only when it is not there.
    const temp = path.join(dir, `${UPLOAD_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const upload: Upload = { jobId: job.id, dir, fileName: target.fileName, temp, received: 0 };
    try {
      const declared = Number(request.headers['content-length'] ?? 0);
      const room = await this.checkRoom(upload, declared);
      await this.receive(request, upload, room);
      // What is on disk now (uploads that started with this one may have finished since) plus
      // what is still in flight must stay within the job's caps.
      await this.oneCommitAtATime(job.id, async () => {
        await this.checkRoom(upload, 0);
        await fs.promises.rename(temp, final);
      });
    } catch (error) {
      await fs.promises.rm(temp, { force: true });
      throw error;
    } finally {
      this.addInFlight(job.id, -upload.received);
    }
    await this.extendLease(job);
    this.options.logger.debug('output stored', {
      job: job.id,
      file: target.fileName,
      bytes: upload.received,
    });
    response.writeHead(201, { 'content-type': 'text/plain' });
    response.end('stored\n');
  }

  private addInFlight(jobId: string, bytes: number): number {
    const total = (this.inFlight.get(jobId) ?? 0) + bytes;
    if (total > 0) this.inFlight.set(jobId, total);
    else this.inFlight.delete(jobId);
    return total;
  }

  /** Refuses (413) an upload that would take the job past its file count or byte caps. */
  private async checkRoom(upload: Upload, moreBytes: number): Promise<Room> {
    const { maxUploadBytes, maxJobBytes } = this.options;
    const maxFiles = this.options.maxFilesPerJob ?? DEFAULT_MAX_FILES_PER_JOB;
    const usage = await outputUsage(upload.dir, upload.fileName);
    if (usage.files >= maxFiles) {
      throw new HttpError(413, `the job has ${usage.files} output files, the most it may store`);
    }
    const othersInFlight = (this.inFlight.get(upload.jobId) ?? 0) - upload.received;
    const limit = Math.max(0, Math.min(maxUploadBytes, maxJobBytes - usage.bytes - othersInFlight));
    if (upload.received + moreBytes > limit) throw uploadTooBig(limit);
    return { storedBytes: usage.bytes, limit };
  }

  /** Streams the body to the temp file, within the caps, cutting off a body too slow. */
  private async receive(request: http.IncomingMessage, upload: Upload, room: Room): Promise<void> {
    const { maxUploadBytes, maxJobBytes } = this.options;
    const minBytes =
      this.options.minUploadBytesPerIdleTimeout ?? DEFAULT_MIN_UPLOAD_BYTES_PER_IDLE_TIMEOUT;
    // Created before the body is read, so the temp exists whenever the caller removes it: a
    // stream that opened it lazily could create it after a quickly failed pipeline's clean-up.
    const file = await fs.promises.open(upload.temp, 'wx', 0o600).catch(async (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await fs.promises.mkdir(upload.dir, { recursive: true });
      return fs.promises.open(upload.temp, 'wx', 0o600);
    });
    const rate = watchUploadRate(request, this.idleTimeoutMs, minBytes);
    const addInFlight = (bytes: number) => this.addInFlight(upload.jobId, bytes);
    try {
      await pipeline(
        request,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            upload.received += chunk.length;
            rate.count(chunk.length);
            // Parallel uploads of the same job share its cap.
            const othersNow = addInFlight(chunk.length) - upload.received;
            if (
              upload.received > maxUploadBytes ||
              room.storedBytes + othersNow + upload.received > maxJobBytes
            ) {
              throw uploadTooBig(room.limit);
            }
            yield chunk;
          }
        },
        // The stream closes the handle when it ends or is destroyed by the pipeline.
        fs.createWriteStream('', { fd: file }),
      );
    } finally {
      rate.stop();
    }
  }
}

function uploadTooBig(limit: number): HttpError {
  return new HttpError(413, `upload exceeds the limit of ${limit} bytes for this file`);
}
