/**
 * A real StorageServer on loopback over a real SQLite queue, with leased jobs, for the storage
 * tests; plus HTTP clients: node:http for well-formed requests, node:net for anything else.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '@copilot/base/logger';
import { newJobId, newLeaseId, newStorageToken } from '@manager/job-manager/job-record';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';
import type { StorageServerOptions } from '@manager/job-manager/storage-server';
import { SPEC } from './queue-contract';

export const INPUT_SCRIPT = 'echo "2+2" | bc\n';

export interface LeasedJob {
  id: string;
  inputToken: string;
  outputToken: string;
}

export interface LoggedLine {
  message: string;
  fields?: Record<string, unknown>;
}

export class StorageFixture {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-storage-'));
  readonly queue = new SqliteJobQueue(path.join(this.root, 'queue.sqlite'));
  readonly paths = new JobStorePaths(path.join(this.root, 'storage'));
  /** What the server logged, to check no token reaches the log. */
  readonly logged: LoggedLine[] = [];
  readonly logger: Logger = {
    debug: (message, fields) => this.logged.push({ message, fields }),
    info: (message, fields) => this.logged.push({ message, fields }),
    warn: (message, fields) => this.logged.push({ message, fields }),
    error: (message, fields) => this.logged.push({ message, fields }),
    child: () => this.logger,
  };

  options(overrides: Partial<StorageServerOptions> = {}): StorageServerOptions {
    return {
      queue: this.queue,
      paths: this.paths,
      logger: this.logger,
      leaseMs: 60_000,
      maxUploadBytes: 1000,
      maxJobBytes: 1500,
      serveInput: true,
      acceptOutput: true,
      port: 0,
      host: '127.0.0.1',
      ...overrides,
    };
  }

  /** A job with an input file `calculator.sh`, leased with fresh tokens. */
  async leasedJob(): Promise<LeasedJob> {
    const id = newJobId();
    await fs.promises.mkdir(this.paths.dir(id, 'input'), { recursive: true });
    await fs.promises.writeFile(this.paths.file(id, 'input', 'calculator.sh'), INPUT_SCRIPT);
    await this.queue.add(id, SPEC);
    const inputToken = newStorageToken();
    const outputToken = newStorageToken();
    await this.queue.transition(
      id,
      { from: ['queued'] },
      {
        state: 'leased',
        leaseId: newLeaseId(),
        leaseExpiresAt: Date.now() + 60_000,
        inputToken,
        outputToken,
      },
    );
    return { id, inputToken, outputToken };
  }

  outputFiles(jobId: string): string[] {
    const dir = this.paths.dir(jobId, 'output');
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }

  /** Upload temp files (dot files) left in any job's output directory. */
  leftoverTemps(): string[] {
    const storage = this.paths.storageDir;
    if (!fs.existsSync(storage)) return [];
    return fs
      .readdirSync(storage)
      .flatMap((jobId) => this.outputFiles(jobId).map((name) => `${jobId}/${name}`))
      .filter((name) => path.basename(name).startsWith('.'));
  }

  async close(): Promise<void> {
    await this.queue.close();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export const outputUrl = (job: LeasedJob, file: string): string =>
  `/storage/output/${job.id}/${job.outputToken}/${file}`;
export const inputUrl = (job: LeasedJob, file = 'calculator.sh'): string =>
  `/storage/input/${job.id}/${job.inputToken}/${file}`;

export interface Reply {
  status: number;
  body: string;
}

export function httpRequest(
  port: number,
  method: string,
  urlPath: string,
  body?: Buffer | string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface RawScript {
  /** Written one after another, `gapMs` apart. */
  chunks: Array<string | Buffer>;
  gapMs?: number;
  /** After the last chunk: half-close, reset, or keep the socket open (the default). */
  then?: 'end' | 'destroy' | 'hold';
  /** Give up waiting for the server after this long (default 3 s). */
  waitMs?: number;
}

export interface RawReply {
  /** The status of the first response, if any arrived. */
  status: number | undefined;
  text: string;
  /** Whether the server closed the connection (rather than the wait running out). */
  closedByServer: boolean;
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends raw bytes over TCP and collects whatever the server answers until it closes. */
export function rawExchange(port: number, script: RawScript): Promise<RawReply> {
  const started = Date.now();
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const outcome = new Promise<RawReply>((resolve) => {
    const finish = (closedByServer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({
        status: status === undefined ? undefined : Number(status),
        text,
        closedByServer,
        elapsedMs: Date.now() - started,
      });
    };
    const timer = setTimeout(() => finish(false), script.waitMs ?? 3_000);
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
  });
  void (async () => {
    await new Promise((resolve) => socket.once('connect', resolve));
    for (const [index, chunk] of script.chunks.entries()) {
      if (index > 0 && script.gapMs) await sleep(script.gapMs);
      if (socket.destroyed) return;
      socket.write(chunk);
    }
    if (script.then === 'end') socket.end();
    if (script.then === 'destroy') socket.destroy();
  })();
  return outcome;
}

/** The request line and headers of a raw request (one request per connection). */
export function rawHead(method: string, target: string, headers: string[] = []): string {
  const lines = [
    `${method} ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: close',
    ...headers,
  ];
  return [...lines, '', ''].join('\r\n');
}

/** One chunk of a chunked body. */
export function chunk(data: Buffer | string): Buffer {
  const bytes = Buffer.from(data);
  return Buffer.concat([
    Buffer.from(`${bytes.length.toString(16)}\r\n`),
    bytes,
    Buffer.from('\r\n'),
  ]);
}
