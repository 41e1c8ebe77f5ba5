import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DockerUnavailableError,
  dockerFailure,
  dockerSocketGet,
  dockerSocketPath,
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
  it('finds the socket from DOCKER_HOST, and leaves other addresses to dockerode', () => {
    expect(dockerSocketPath({})).toBe('/var/run/docker.sock');
    expect(dockerSocketPath({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toBe(
      '/run/user/1000/docker.sock',
    );
    expect(dockerSocketPath({ DOCKER_HOST: 'tcp://10.0.0.1:2376' })).toBeUndefined();
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
