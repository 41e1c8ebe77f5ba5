import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransferError, storageClient } from '@copilot/core/storage-transfer';
import { chirpFilePath } from '@copilot/protocol/storage-url';
import { ChirpError } from '@copilot/storage';

describe('chirpFilePath', () => {
  it('joins the directory and a safe file name, anchored at the Chirp root', () => {
    expect(chirpFilePath({ directory: '/input/job-1' }, 'calculator.sh')).toBe(
      '/input/job-1/calculator.sh',
    );
    expect(chirpFilePath({ directory: 'job-1/' }, 'stdout')).toBe('/job-1/stdout');
    expect(chirpFilePath({ directory: '/' }, 'stdout')).toBe('/stdout');
    expect(() => chirpFilePath({ directory: '/job-1' }, '../job-2')).toThrow(/unsafe/);
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('storageClient() dispatch', () => {
  let server: http.Server;
  let baseUrl: string;
  let work: string;
  const stored = new Map<string, Buffer>();

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-storage-dispatch-'));
    server = http.createServer((req, res) => {
      const key = req.url ?? '';
      if (req.method === 'PUT') {
        const parts: Buffer[] = [];
        req.on('data', (chunk: Buffer) => parts.push(chunk));
        req.on('end', () => {
          stored.set(key, Buffer.concat(parts));
          res.writeHead(201).end();
        });
        return;
      }
      const body = stored.get(key);
      if (body) res.writeHead(200, { 'content-length': body.length }).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('speaks HTTP to a base URL as before', async () => {
    const storage = storageClient({ timeoutMs: 5_000 });
    const file = path.join(work, 'stdout');
    fs.writeFileSync(file, 'hello');
    expect(await storage.upload(baseUrl, '/storage/output/j/t', 'stdout', file)).toBe(5);
    expect(stored.get('/storage/output/j/t/stdout')?.toString()).toBe('hello');

    const copy = path.join(work, 'copy');
    expect(await storage.download(baseUrl, '/storage/output/j/t', 'stdout', copy, 100)).toBe(5);
    expect(fs.readFileSync(copy, 'utf8')).toBe('hello');

    const missing = await storage
      .download(baseUrl, '/storage/input/j/t', 'absent', path.join(work, 'absent'), 100)
      .catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(TransferError);
    expect((missing as TransferError).status).toBe(404);
    expect((missing as TransferError).transient).toBe(false);
  });

  it('calls a storage that refuses connections unreachable, and so worth another try', async () => {
    const port = await closedPort();
    for (const base of [`http://127.0.0.1:${port}`, `127.0.0.1:${port}`]) {
      const error = await storageClient({ timeoutMs: 5_000 })
        .download(base, '/storage/input/j/t', 'input', path.join(work, 'unreached'), 100)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TransferError);
      expect((error as TransferError).transient).toBe(true);
    }
    expect(new TransferError('busy', 503).transient).toBe(true);
    expect(new TransferError('over the disk cap').transient).toBe(false);
  });

  it('speaks Chirp to host:port, failing as a TransferError with the ChirpError as cause', async () => {
    const port = await closedPort();
    const storage = storageClient({ timeoutMs: 5_000 });
    const error = await storage
      .download(`127.0.0.1:${port}`, '/job-1', 'input', path.join(work, 'input'), 100)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransferError);
    expect((error as TransferError).message).toMatch(/download of input on Chirp 127\.0\.0\.1/);
    expect((error as TransferError).cause).toBeInstanceOf(ChirpError);
    expect(((error as TransferError).cause as ChirpError).code).toBe('ECONNREFUSED');
    expect(fs.existsSync(path.join(work, 'input'))).toBe(false);
  });
});
