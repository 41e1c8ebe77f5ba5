import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DockerUnavailableError,
  dockerFailure,
  dockerSocketGet,
  dockerodeOptions,
  engineGet,
} from '@copilot/core/docker-socket';

let dir: string;
let socketPath: string;
let server: http.Server;
const asked: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-socket-'));
  socketPath = path.join(dir, 'docker.sock');
  server = http.createServer((request, response) => {
    asked.push(request.url ?? '');
    if (request.url === '/version') response.end(JSON.stringify({ Version: '20.10.24' }));
    else if (request.url === '/garbled') response.end('{not json');
    else if (request.url === '/slow') return;
    else response.writeHead(404).end('page not found');
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Docker over its unix socket', () => {
  it('gives dockerode the socket or pipe, or host, port, protocol and certificates', () => {
    expect(dockerodeOptions({ kind: 'socket', path: '/run/podman/podman.sock' })).toEqual({
      socketPath: '/run/podman/podman.sock',
    });
    expect(dockerodeOptions({ kind: 'socket', path: '//./pipe/docker_engine' })).toEqual({
      socketPath: '//./pipe/docker_engine',
    });
    expect(dockerodeOptions({ kind: 'tcp', host: '10.0.0.1', port: 2375 })).toEqual({
      host: '10.0.0.1',
      port: 2375,
      protocol: 'http',
    });
    const tls = { ca: 'CA', cert: 'CERT', key: 'KEY' };
    expect(dockerodeOptions({ kind: 'tcp', host: 'h', port: 2376, tls })).toEqual({
      host: 'h',
      port: 2376,
      protocol: 'https',
      ...tls,
    });
  });

  it('reads JSON answers, with query strings passed as they are', async () => {
    expect(await dockerSocketGet<{ Version: string }>(socketPath, '/version', 1000)).toEqual({
      Version: '20.10.24',
    });
    await expect(dockerSocketGet(socketPath, '/containers/json?all=1', 1000)).rejects.toThrow(
      /Docker answered 404 to \/containers\/json\?all=1: page not found/,
    );
    expect(asked).toContain('/containers/json?all=1');
  });

  it('gives a clear error for bad JSON, silence and a missing daemon', async () => {
    await expect(dockerSocketGet(socketPath, '/garbled', 1000)).rejects.toThrow(/unreadable JSON/);
    await expect(dockerSocketGet(socketPath, '/slow', 200)).rejects.toThrow(/no answer/);
    await expect(dockerSocketGet(path.join(dir, 'none.sock'), '/version', 1000)).rejects.toThrow(
      /ENOENT/,
    );
  });

  it('classifies a closed socket as DockerUnavailableError where the error enters', async () => {
    // A socket file nobody listens on any more: a hard link outlives the server's own path.
    const stale = path.join(dir, 'stale.sock');
    const other = net.createServer();
    const live = path.join(dir, 'live.sock');
    await new Promise<void>((resolve) => other.listen(live, resolve));
    fs.linkSync(live, stale);
    await new Promise((resolve) => other.close(resolve));
    const refused: unknown = await dockerSocketGet(stale, '/version', 1000).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DockerUnavailableError);
    expect((refused as DockerUnavailableError).code).toBe('DOCKER_UNAVAILABLE');
    expect((refused as DockerUnavailableError).detail).toMatch(/ECONNREFUSED/);
    expect(((refused as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect((refused as Error).message).toBe(
      `Docker is not reachable: ${(refused as DockerUnavailableError).detail}`,
    );

    const missing: unknown = await dockerSocketGet(
      path.join(dir, 'none.sock'),
      '/version',
      1000,
    ).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(DockerUnavailableError);

    // The daemon answered: not an outage.
    const answered: unknown = await dockerSocketGet(socketPath, '/nothing', 1000).catch(
      (error: unknown) => error,
    );
    expect(answered).not.toBeInstanceOf(DockerUnavailableError);
  });

  it('leaves errors that are not a lost connection to the daemon as they are', () => {
    const notFound = new Error('(HTTP code 404) no such container - No such image: nope:latest');
    expect(dockerFailure(notFound)).toBe(notFound);
    const noFile = Object.assign(new Error("ENOENT: no such file, open '/x'"), {
      code: 'ENOENT',
      syscall: 'open',
    });
    expect(dockerFailure(noFile)).toBe(noFile);
    expect(dockerFailure('text')).toBe('text');
    const hungUp = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(dockerFailure(hungUp)).toBeInstanceOf(DockerUnavailableError);
    const broken = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    expect(dockerFailure(broken)).toBeInstanceOf(DockerUnavailableError);
  });
});

describe('the engine over TCP', () => {
  it('asks over plain TCP, and over TLS with a client certificate checked by the server', async () => {
    const plain = http.createServer((_request, response) => response.end('{"Version":"tcp"}'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const plainPort = (plain.address() as { port: number }).port;
    try {
      expect(
        await engineGet({ kind: 'tcp', host: '127.0.0.1', port: plainPort }, '/version', 1000),
      ).toEqual({ Version: 'tcp' });
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }

    // A CA, the daemon's certificate for 127.0.0.1 and a client certificate, as `dockerd
    // --tlsverify` and DOCKER_CERT_PATH use them.
    const certs = path.join(dir, 'certs');
    fs.mkdirSync(certs);
    const ssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' });
    };
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca-key.pem',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=test-ca',
    );
    for (const name of ['server', 'client']) {
      ssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}-key.pem`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name === 'server' ? '127.0.0.1' : 'client'}`,
      );
      fs.writeFileSync(path.join(certs, `${name}.ext`), 'subjectAltName=IP:127.0.0.1\n');
      ssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca-key.pem',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      );
    }
    const read = (name: string): string => fs.readFileSync(path.join(certs, name), 'utf8');
    const secure = https.createServer(
      {
        ca: read('ca.pem'),
        cert: read('server.pem'),
        key: read('server-key.pem'),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (_request, response) => response.end('{"Version":"tls"}'),
    );
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    const port = (secure.address() as { port: number }).port;
    try {
      const tls = { ca: read('ca.pem'), cert: read('client.pem'), key: read('client-key.pem') };
      expect(
        await engineGet({ kind: 'tcp', host: '127.0.0.1', port, tls }, '/version', 2000),
      ).toEqual({ Version: 'tls' });
      // Without the client certificate the daemon hangs up; with another CA ours refuses it.
      await expect(
        engineGet(
          { kind: 'tcp', host: '127.0.0.1', port, tls: { ...tls, cert: '', key: '' } },
          '/version',
          2000,
        ),
      ).rejects.toThrow();
      await expect(
        engineGet(
          { kind: 'tcp', host: '127.0.0.1', port, tls: { ...tls, ca: read('client.pem') } },
          '/version',
          2000,
        ),
      ).rejects.toThrow(/certificate/);
    } finally {
      secure.closeAllConnections();
      await new Promise((resolve) => secure.close(resolve));
    }
  });
});
