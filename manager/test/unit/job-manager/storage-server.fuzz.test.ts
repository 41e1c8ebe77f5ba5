/**
 * Whatever a client sends, the storage server answers or closes the connection, keeps running,
 * serves the next legitimate request and leaves no upload temp file behind (issue #11).
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageServer } from '@manager/job-manager/storage-server';
import {
  chunk,
  httpRequest,
  inputUrl,
  outputUrl,
  rawExchange,
  rawHead,
  StorageFixture,
  type LeasedJob,
  type RawReply,
  type RawScript,
} from '@manager/test/support/storage-fixture';

const IDLE_MS = 300;
const fixture = new StorageFixture();
const server = new StorageServer(fixture.options({ idleTimeoutMs: IDLE_MS, maxFilesPerJob: 3 }));

beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await fixture.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => unknown, withinMs = 2_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(25);
    }
  }
}

/**
 * No temp file is left, and the server still stores a full-size upload for the job once its
 * outputs are cleared (so no bytes stay counted as in flight).
 */
async function expectServerHealthy(job: LeasedJob): Promise<void> {
  await eventually(() => expect(fixture.leftoverTemps()).toEqual([]));
  for (const name of fixture.outputFiles(job.id)) {
    await fs.promises.rm(fixture.paths.file(job.id, 'output', name));
  }
  expect((await httpRequest(server.port, 'GET', inputUrl(job))).status).toBe(200);
  const full = Buffer.alloc(1000, 'h');
  expect((await httpRequest(server.port, 'PUT', outputUrl(job, 'healthy'), full)).status).toBe(201);
  await fs.promises.rm(fixture.paths.file(job.id, 'output', 'healthy'));
}

const OVER_CAP = Buffer.alloc(1001, 'x');
const put = (job: LeasedJob, file: string, headers: string[]) =>
  rawHead('PUT', outputUrl(job, file), headers);
const chunked = ['Transfer-Encoding: chunked'];

interface FuzzCase {
  name: string;
  script: (job: LeasedJob) => RawScript;
  /** Acceptable first statuses; 'none' when closing without an answer is acceptable. */
  statuses: Array<number | 'none'>;
  /** Whether the request must leave no file `f` in the job's outputs (default true). */
  notStored?: boolean;
  prepare?: (job: LeasedJob) => Promise<void>;
}

const bodyCases: FuzzCase[] = [
  {
    name: 'chunked PUT over the per-file cap, socket kept open',
    script: (job) => ({ chunks: [put(job, 'f', chunked), chunk(OVER_CAP)] }),
    statuses: [413],
  },
  {
    name: 'chunked PUT over the per-file cap in small chunks',
    script: (job) => ({
      chunks: [put(job, 'f', chunked), ...Array.from({ length: 12 }, () => chunk('y'.repeat(100)))],
      gapMs: 5,
    }),
    statuses: [413],
  },
  {
    name: 'declared length over the per-file cap',
    script: (job) => ({ chunks: [put(job, 'f', ['Content-Length: 1001'])] }),
    statuses: [413],
  },
  {
    name: 'chunked PUT over the per-job cap',
    prepare: async (job) => {
      await httpRequest(server.port, 'PUT', outputUrl(job, 'first'), Buffer.alloc(900));
    },
    script: (job) => ({ chunks: [put(job, 'f', chunked), chunk(Buffer.alloc(700))] }),
    statuses: [413],
  },
  {
    name: 'truncated body, then half-close',
    script: (job) => ({
      chunks: [put(job, 'f', ['Content-Length: 500']), 'a'.repeat(100)],
      then: 'end',
    }),
    statuses: [400, 'none'],
  },
  {
    name: 'aborted upload with a length',
    script: (job) => ({
      chunks: [put(job, 'f', ['Content-Length: 800']), 'a'.repeat(200)],
      then: 'destroy',
    }),
    statuses: ['none'],
  },
  {
    name: 'aborted chunked upload',
    script: (job) => ({
      chunks: [put(job, 'f', chunked), chunk('a'.repeat(200))],
      then: 'destroy',
    }),
    statuses: ['none'],
  },
  {
    name: 'chunked body without its last chunk, then half-close',
    script: (job) => ({ chunks: [put(job, 'f', chunked), chunk('abc')], then: 'end' }),
    statuses: [400, 'none'],
  },
  {
    name: 'malformed chunk size',
    script: (job) => ({ chunks: [put(job, 'f', chunked), 'zz\r\nabc\r\n0\r\n\r\n'] }),
    statuses: [400],
  },
  {
    name: 'chunk longer than its size',
    script: (job) => ({ chunks: [put(job, 'f', chunked), '3\r\nabcdefgh\r\n0\r\n\r\n'] }),
    statuses: [400],
  },
  {
    name: 'body that goes silent',
    script: (job) => ({ chunks: [put(job, 'f', ['Content-Length: 500']), 'a'] }),
    statuses: ['none', 408],
  },
  {
    name: 'body that drips a byte every 2 idle periods',
    script: (job) => ({
      chunks: [put(job, 'f', ['Content-Length: 500']), ...Array.from({ length: 10 }, () => 'a')],
      gapMs: IDLE_MS * 2,
    }),
    statuses: ['none', 408],
  },
  {
    name: 'body that drips a byte every 50 ms, never quite silent',
    script: (job) => ({
      chunks: [put(job, 'f', ['Content-Length: 500']), ...Array.from({ length: 100 }, () => 'a')],
      gapMs: 50,
      // Cut off within a few idle timeouts, long before the 5 s the drip would take.
      waitMs: IDLE_MS * 8,
    }),
    statuses: ['none', 408],
  },
  {
    name: 'headers that drip a byte every 50 ms',
    script: (job) => ({
      chunks: [...put(job, 'f', ['Content-Length: 1'])],
      gapMs: 50,
      waitMs: IDLE_MS * 8,
    }),
    statuses: ['none', 408],
  },
];

const headerCases: FuzzCase[] = [
  ...['abc', '-1', '1e3', '0x10', '99999999999999999999999', '1, 2', ' '].map((value) => ({
    name: `Content-Length: ${value}`,
    script: (job: LeasedJob) => ({ chunks: [put(job, 'f', [`Content-Length: ${value}`]), 'a'] }),
    statuses: [400, 413],
  })),
  {
    name: 'two different Content-Length headers',
    script: (job) => ({
      chunks: [put(job, 'f', ['Content-Length: 1', 'Content-Length: 2']), 'ab'],
    }),
    statuses: [400],
  },
  {
    name: 'two equal Content-Length headers',
    script: (job) => ({
      chunks: [put(job, 'f', ['Content-Length: 2', 'Content-Length: 2']), 'ab'],
    }),
    statuses: [400, 201],
    notStored: false,
  },
  {
    name: 'Content-Length and Transfer-Encoding together',
    script: (job) => ({
      chunks: [put(job, 'f', ['Content-Length: 3', ...chunked]), chunk('abc'), '0\r\n\r\n'],
    }),
    statuses: [400],
  },
  {
    name: 'unknown Transfer-Encoding',
    script: (job) => ({ chunks: [put(job, 'f', ['Transfer-Encoding: gzip']), 'abc'], then: 'end' }),
    statuses: [400, 501, 'none'],
  },
  {
    name: 'a 20 KB header line',
    script: (job) => ({ chunks: [put(job, 'f', [`X-Big: ${'b'.repeat(20_000)}`])] }),
    statuses: [431, 400],
  },
  {
    name: '3000 small headers',
    script: (job) => ({
      chunks: [
        put(
          job,
          'f',
          Array.from({ length: 3000 }, (_, i) => `X-${i}: v`),
        ),
      ],
    }),
    statuses: [431, 400],
  },
  {
    name: 'header without a colon',
    script: (job) => ({ chunks: [put(job, 'f', ['NoColonHere', 'Content-Length: 1']), 'a'] }),
    statuses: [400],
  },
  {
    name: 'Expect: something unknown',
    script: (job) => ({ chunks: [put(job, 'f', ['Expect: teapot', 'Content-Length: 1']), 'a'] }),
    statuses: [417],
  },
  {
    name: 'binary garbage instead of a request',
    script: () => ({ chunks: [Buffer.from([0, 255, 13, 10, 1, 2, 3, 13, 10, 13, 10])] }),
    statuses: [400],
  },
];

const methodCases: FuzzCase[] = [
  ...['DELETE', 'POST', 'PATCH', 'GET', 'OPTIONS'].map((method) => ({
    name: `${method} on an output`,
    script: (job: LeasedJob) => ({ chunks: [rawHead(method, outputUrl(job, 'f'))] }),
    statuses: [405],
  })),
  {
    name: 'HEAD on an output',
    script: (job) => ({ chunks: [rawHead('HEAD', outputUrl(job, 'f'))] }),
    statuses: [405],
  },
  ...['PUT', 'DELETE', 'OPTIONS'].map((method) => ({
    name: `${method} on an input`,
    script: (job: LeasedJob) => ({
      chunks: [rawHead(method, inputUrl(job), ['Content-Length: 1']), 'a'],
    }),
    statuses: [405],
  })),
  {
    name: 'HEAD on an input',
    script: (job) => ({ chunks: [rawHead('HEAD', inputUrl(job))] }),
    statuses: [200],
  },
  {
    name: 'OPTIONS *',
    script: () => ({ chunks: [rawHead('OPTIONS', '*')] }),
    statuses: [404, 400],
  },
  {
    name: 'an unknown method',
    script: (job) => ({ chunks: [rawHead('FROB', outputUrl(job, 'f'))] }),
    statuses: [400, 405],
  },
  {
    name: 'CONNECT',
    script: () => ({ chunks: [rawHead('CONNECT', '127.0.0.1:22')] }),
    statuses: [400, 405, 'none'],
  },
  {
    name: 'an Upgrade to websocket',
    script: (job) => ({
      chunks: [rawHead('GET', inputUrl(job), ['Connection: Upgrade', 'Upgrade: websocket'])],
    }),
    statuses: [200, 400, 426, 'none'],
  },
];

const urlCases: FuzzCase[] = [
  ...[
    '%zz',
    '%00',
    'a%00b',
    '%',
    '%ff',
    '..',
    '%2e%2e',
    '..%2f..%2fescape',
    'a%5cb',
    '.hidden',
  ].map((name) => ({
    name: `file name ${name}`,
    script: (job: LeasedJob) => ({
      chunks: [put(job, name, ['Content-Length: 1']), 'a'],
    }),
    statuses: [400, 404],
  })),
  {
    name: 'a 10 KB file name',
    script: (job) => ({ chunks: [put(job, 'n'.repeat(10_000), ['Content-Length: 1']), 'a'] }),
    statuses: [400, 404, 414, 431],
  },
  {
    name: 'a 20 KB path',
    script: (job) => ({ chunks: [put(job, 'n'.repeat(20_000), ['Content-Length: 1']), 'a'] }),
    statuses: [400, 414, 431],
  },
  {
    name: 'a 200-character token',
    script: (job) => ({
      chunks: [rawHead('PUT', `/storage/output/${job.id}/${'t'.repeat(200)}/f`), ''],
    }),
    statuses: [403],
  },
  {
    name: 'an absolute-form URL that does not parse',
    script: () => ({ chunks: [rawHead('GET', 'http://[/storage')] }),
    statuses: [400, 404],
  },
  {
    name: 'a target without a leading slash',
    script: (job) => ({ chunks: [rawHead('GET', inputUrl(job).slice(1))] }),
    statuses: [400, 404],
  },
  {
    name: 'a request line with a space in the target',
    script: (job) => ({ chunks: [rawHead('GET', `${inputUrl(job)} x`)] }),
    statuses: [400, 404, 505],
  },
];

function expectStatus(reply: RawReply, statuses: FuzzCase['statuses']): void {
  const got = reply.status ?? 'none';
  expect(statuses, `answered ${got}: ${reply.text.slice(0, 200)}`).toContain(got);
  // Every exchange ends: nothing a client sends may hold a connection for good.
  if (got === 'none') expect(reply.closedByServer).toBe(true);
}

function describeCases(title: string, cases: FuzzCase[]): void {
  describe(title, () => {
    it.each(cases)('$name', async (fuzz) => {
      const job = await fixture.leasedJob();
      await fuzz.prepare?.(job);
      const reply = await rawExchange(server.port, { waitMs: 5_000, ...fuzz.script(job) });
      expectStatus(reply, fuzz.statuses);
      if (fuzz.notStored !== false) expect(fixture.outputFiles(job.id)).not.toContain('f');
      await expectServerHealthy(job);
    });
  });
}

describeCases('storage server under hostile bodies', bodyCases);
describeCases('storage server under hostile headers', headerCases);
describeCases('storage server under odd methods', methodCases);
describeCases('storage server under hostile URLs', urlCases);

describe('storage server limits', () => {
  it('refuses a new output file over the per-job file count, but replaces existing ones', async () => {
    const job = await fixture.leasedJob();
    for (const name of ['a', 'b', 'c']) {
      expect((await httpRequest(server.port, 'PUT', outputUrl(job, name), name)).status).toBe(201);
    }
    const refused = await httpRequest(server.port, 'PUT', outputUrl(job, 'd'), 'd');
    expect(refused.status).toBe(413);
    expect(refused.body).toMatch(/3 output files/);
    expect((await httpRequest(server.port, 'PUT', outputUrl(job, 'a'), 'a2')).status).toBe(201);
    expect(fixture.outputFiles(job.id)).toEqual(['a', 'b', 'c']);
  });

  it('counts files being uploaded at the same time against the per-job file count', async () => {
    const job = await fixture.leasedJob();
    const names = ['p', 'q', 'r', 's', 't'];
    const replies = await Promise.all(
      names.map((name) => httpRequest(server.port, 'PUT', outputUrl(job, name), name)),
    );
    expect(replies.filter((reply) => reply.status === 201)).toHaveLength(3);
    expect(replies.filter((reply) => reply.status === 413)).toHaveLength(2);
    expect(fixture.outputFiles(job.id)).toHaveLength(3);
    await eventually(() => expect(fixture.leftoverTemps()).toEqual([]));
  });
});

describe('storage server connection cap', () => {
  const capped = new StorageServer(fixture.options({ maxConnectionsPerClient: 4 }));
  beforeAll(async () => {
    await capped.start();
  });
  afterAll(async () => {
    await capped.stop();
  });

  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(capped.port, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    });

  it('refuses a client its 5th concurrent connection with 503 and serves it again later', async () => {
    const held = await Promise.all([connect(), connect(), connect(), connect()]);
    try {
      const job = await fixture.leasedJob();
      const refused = await rawExchange(capped.port, { chunks: [rawHead('GET', inputUrl(job))] });
      expect(refused.status).toBe(503);
      expect(refused.closedByServer).toBe(true);
      held.pop()?.destroy();
      await eventually(async () => {
        expect((await httpRequest(capped.port, 'GET', inputUrl(job))).status).toBe(200);
      });
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});
