import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newStorageToken } from '@manager/job-manager/job-record';
import {
  parseStoragePath,
  storageDirOf,
  StorageServer,
  tokensEqual,
} from '@manager/job-manager/storage-server';
import { httpRequest, StorageFixture } from '@manager/test/support/storage-fixture';

const fixture = new StorageFixture();
const { root, queue, paths, logged } = fixture;
const UPLOAD_CAP = 1000;
const OPTIONS = fixture.options({ maxUploadBytes: UPLOAD_CAP, maxJobBytes: 1500 });
const server = new StorageServer(OPTIONS);

const request = (method: string, urlPath: string, body?: Buffer | string) =>
  httpRequest(server.port, method, urlPath, body);
const leasedJob = () => fixture.leasedJob();

beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await fixture.close();
});

describe('storage tokens and paths', () => {
  it('compares tokens in constant time and never accepts an empty one', () => {
    const token = newStorageToken();
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(tokensEqual(token, token)).toBe(true);
    expect(tokensEqual(token, token.slice(1))).toBe(false);
    expect(tokensEqual(undefined, '')).toBe(false);
    expect(tokensEqual('', '')).toBe(false);
  });

  it('accepts only /storage/<direction>/<valid id>/<token>/<safe file name>', () => {
    expect(storageDirOf('output', 'job-1', 'abc_-')).toBe('/storage/output/job-1/abc_-');
    expect(parseStoragePath('/storage/output/job-1/abc_-/stdout')).toEqual({
      direction: 'output',
      jobId: 'job-1',
      token: 'abc_-',
      fileName: 'stdout',
    });
    for (const bad of [
      '/storage/input/job-1/tok/..',
      '/storage/input/job-1/tok/%2e%2e',
      '/storage/input/job-1/tok/a%2Fb',
      '/storage/input/..%2Fjob/tok/stdout',
      '/storage/input/job-1/tok/.hidden',
      '/storage/input/job-1/tok/a%00b',
      '/storage/input/job-1/tok/%E0%A4%A',
      '/storage/other/job-1/tok/stdout',
      '/storage/input/job-1/stdout',
    ]) {
      expect(() => parseStoragePath(bad), bad).toThrow();
    }
  });

  it('builds every path inside the job directory', () => {
    expect(paths.file('job-1', 'output', 'stdout')).toBe(
      path.join(root, 'storage', 'job-1', 'output', 'stdout'),
    );
    expect(() => paths.file('job-1', 'output', '../x')).toThrow(/unsafe file name/);
    expect(() => paths.file('..', 'output', 'x')).toThrow(/invalid job id/);
  });
});

describe('storage server', () => {
  it("serves an input file only with the job's input token and marks the job running", async () => {
    const job = await leasedJob();
    const ok = await request('GET', `/storage/input/${job.id}/${job.inputToken}/calculator.sh`);
    expect(ok).toEqual({ status: 200, body: 'echo "2+2" | bc\n' });
    expect((await queue.get(job.id))?.state).toBe('running');
    expect(
      (await request('GET', `/storage/input/${job.id}/${job.outputToken}/calculator.sh`)).status,
    ).toBe(403);
    expect(
      (await request('GET', `/storage/input/${job.id}/${job.inputToken}/missing`)).status,
    ).toBe(404);
    expect(
      (await request('PUT', `/storage/input/${job.id}/${job.inputToken}/calculator.sh`, 'x'))
        .status,
    ).toBe(405);
    expect(
      (await request('GET', `/storage/input/no-such-job/${job.inputToken}/calculator.sh`)).status,
    ).toBe(404);
  });

  it("stores an upload under the job's output dir with the output token only", async () => {
    const job = await leasedJob();
    const url = `/storage/output/${job.id}/${job.outputToken}/stdout`;
    expect((await request('PUT', url, '4\n')).status).toBe(201);
    expect(fs.readFileSync(paths.file(job.id, 'output', 'stdout'), 'utf8')).toBe('4\n');
    expect(
      (await request('PUT', `/storage/output/${job.id}/${job.inputToken}/stderr`, 'x')).status,
    ).toBe(403);
    expect(
      (await request('PUT', `/storage/output/${job.id}/${job.outputToken}/..%2Fescape`, 'x'))
        .status,
    ).toBe(400);
    expect(fs.readdirSync(paths.dir(job.id, 'output'))).toEqual(['stdout']);
  });

  it('answers 413 for an upload over the per-file cap and removes the partial file', async () => {
    const job = await leasedJob();
    const big = Buffer.alloc(UPLOAD_CAP + 1, 'a');
    const reply = await request('PUT', `/storage/output/${job.id}/${job.outputToken}/big.dat`, big);
    expect(reply.status).toBe(413);
    // Refused before the body: the output dir is not even made (getJobOutputDir makes it).
    expect(fixture.outputFiles(job.id)).toEqual([]);
    const refusals = logged.filter((entry) => entry.message === 'storage request refused');
    expect(refusals.at(-1)?.fields?.url).toBe(`/storage/output/${job.id}/…/big.dat`);
    expect(JSON.stringify(logged)).not.toContain(job.outputToken);
  });

  it('answers 413 when a streamed upload without length goes over the cap mid-way', async () => {
    const job = await leasedJob();
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'PUT',
          path: `/storage/output/${job.id}/${job.outputToken}/stream.dat`,
          headers: { 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(600, 'a'));
      setTimeout(() => req.end(Buffer.alloc(600, 'b')), 50);
    });
    expect(status).toBe(413);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fs.readdirSync(paths.dir(job.id, 'output'))).toEqual([]);
  });

  it('cuts off an upload that goes silent, removing its partial file', async () => {
    const idle = new StorageServer({ ...OPTIONS, idleTimeoutMs: 300 });
    await idle.start();
    try {
      const job = await leasedJob();
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const req = http.request({
          host: '127.0.0.1',
          port: idle.port,
          method: 'PUT',
          path: `/storage/output/${job.id}/${job.outputToken}/slow.dat`,
          headers: { 'content-length': '500' },
        });
        req.on('response', (res) => resolve(`answered ${res.statusCode ?? 0}`));
        req.on('error', () => resolve('cut off'));
        req.write(Buffer.alloc(10, 'a'));
      });
      expect(outcome).toBe('cut off');
      expect(Date.now() - started).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(fs.readdirSync(paths.dir(job.id, 'output'))).toEqual([]);
    } finally {
      await idle.stop();
    }
  });

  it('enforces the per-job cap across files', async () => {
    const job = await leasedJob();
    const base = `/storage/output/${job.id}/${job.outputToken}`;
    expect((await request('PUT', `${base}/a.dat`, Buffer.alloc(900))).status).toBe(201);
    expect((await request('PUT', `${base}/b.dat`, Buffer.alloc(700))).status).toBe(413);
    // Replacing a file counts only the new size.
    expect((await request('PUT', `${base}/a.dat`, Buffer.alloc(1000))).status).toBe(201);
    expect((await request('PUT', `${base}/c.dat`, Buffer.alloc(500))).status).toBe(201);
    expect(fs.readdirSync(paths.dir(job.id, 'output')).sort()).toEqual(['a.dat', 'c.dat']);
  });

  it('keeps the per-job cap when uploads that started together finish one after another', async () => {
    const job = await leasedJob();
    const base = `/storage/output/${job.id}/${job.outputToken}`;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
    const streamed = (name: string) => {
      let done: (status: number) => void = () => undefined;
      const status = new Promise<number>((resolve) => (done = resolve));
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'PUT',
          path: `${base}/${name}`,
          headers: { 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          done(res.statusCode ?? 0);
        },
      );
      req.on('error', () => done(0));
      req.write(Buffer.alloc(10));
      return { req, status };
    };
    const [a, b, c] = [streamed('a.dat'), streamed('b.dat'), streamed('c.dat')];
    await settle();
    a.req.end(Buffer.alloc(900));
    expect(await a.status).toBe(201);
    // b alone stays under the cap with what is in flight, but not with a, now on disk.
    b.req.end(Buffer.alloc(900));
    expect(await b.status).toBe(413);
    c.req.end();
    expect(await c.status).toBe(201);
    await settle();
    expect(fs.readdirSync(paths.dir(job.id, 'output')).sort()).toEqual(['a.dat', 'c.dat']);
  });

  it('refuses reads and writes once the job is finished', async () => {
    const job = await leasedJob();
    await queue.transition(job.id, { from: ['leased'] }, { state: 'done' });
    expect(
      (await request('PUT', `/storage/output/${job.id}/${job.outputToken}/stdout`, 'x')).status,
    ).toBe(409);
    expect(
      (await request('GET', `/storage/input/${job.id}/${job.inputToken}/calculator.sh`)).status,
    ).toBe(409);
  });
});
