import type * as FsPromises from 'node:fs/promises';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveStatic } from '@copilot/rpc/static-files';

const broken = vi.hoisted(() => ({ name: 'unreadable.js' }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  return {
    ...actual,
    open: (path: string, flags?: string) =>
      path.endsWith(broken.name)
        ? Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))
        : actual.open(path, flags),
  };
});

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function fetchReply(server: Server, path: string): Promise<Reply> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
      );
    }).on('error', reject);
  });
}

async function fetchPath(server: Server, path: string): Promise<{ status: number; body: string }> {
  const { status, body } = await fetchReply(server, path);
  return { status, body };
}

describe('serveStatic', () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('answers a file it cannot read with an error reply, not an unhandled stream error', async () => {
    const root = await mkdtemp(join(tmpdir(), 'static-'));
    await writeFile(join(root, 'index.html'), '<html>ui</html>');
    await writeFile(join(root, broken.name), 'secret');
    server = createServer((request, response) => {
      void serveStatic(root, request.url ?? '/', response);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    expect(await fetchPath(server, `/${broken.name}`)).toEqual({ status: 404, body: 'not found' });
    expect(await fetchPath(server, '/')).toEqual({ status: 200, body: '<html>ui</html>' });
  });

  it('forbids framing the UI (clickjacking)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'static-'));
    await writeFile(join(root, 'index.html'), '<html>ui</html>');
    server = createServer((request, response) => {
      void serveStatic(root, request.url ?? '/', response);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const reply = await fetchReply(server, '/');
    expect(reply.headers['x-frame-options']).toBe('DENY');
    expect(reply.headers['content-security-policy']).toBe("frame-ancestors 'none'");
  });
});
