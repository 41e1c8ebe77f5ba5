// DockerRunner and the engine it finds (container-engine.ts): fake engines on unix sockets.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockerRunner, PODMAN_ULIMITS, type RunSpec } from '@copilot/core/docker-runner';
import { ContainerEngine, discoverEngines } from '@copilot/core/container-engine';
import { engineGet } from '@copilot/core/docker-socket';
import { containerLimits } from '@copilot/core/resource-policy';

let dir: string;
const servers: http.Server[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-engine-'));
});
afterEach(async () => {
  for (const server of servers.splice(0)) await stop(server);
  fs.rmSync(dir, { recursive: true, force: true });
});

function stop(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A fake engine: /version as Docker or Podman, one container of job j-1, and a log of requests. */
async function fakeEngine(
  name: string,
  kind: 'docker' | 'podman',
): Promise<{ socket: string; asked: string[]; server: http.Server }> {
  const socket = path.join(dir, `${name}.sock`);
  const asked: string[] = [];
  const server = http.createServer((request, response) => {
    asked.push(`${request.method} ${decodeURIComponent(request.url ?? '')}`);
    const url = request.url ?? '';
    if (url.endsWith('/version')) {
      const components = [{ Name: kind === 'podman' ? 'Podman Engine' : 'Engine', Version: '9.9' }];
      response.end(JSON.stringify({ Version: '9.9', Components: components }));
    } else if (url.startsWith('/containers/json')) {
      response.end(JSON.stringify([{ Id: `${name}-c1`, Labels: { 'copilot.job': 'j-1' } }]));
    } else if (request.method === 'DELETE') {
      response.writeHead(204).end();
    } else {
      response.writeHead(404).end('{"message":"not in this fake"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  servers.push(server);
  return { socket, asked, server };
}

/** An engine looked for at these sockets, in order (as the OS places would be). */
function engineAt(...sockets: string[]): ContainerEngine {
  const discovery = discoverEngines({
    env: {},
    platform: 'linux',
    homeDir: dir,
    uid: 0,
    readFile: () => '',
  });
  discovery.candidates = sockets.map((socket) => ({
    endpoint: { kind: 'socket', path: socket },
    source: 'test',
  }));
  return new ContainerEngine(
    discovery,
    (endpoint, ms) => engineGet(endpoint, '/version', ms),
    'linux',
  );
}

function spec(): RunSpec {
  return {
    jobId: 'j-1',
    image: 'copilot-job:latest',
    argv: ['true'],
    env: {},
    network: false,
    inputDir: dir,
    outputDir: dir,
    stdoutPath: path.join(dir, 'stdout'),
    stderrPath: path.join(dir, 'stderr'),
    jobRoot: dir,
    limits: containerLimits(
      { cpuLimitPercent: 50, memoryLimitMb: 256, diskLimitMb: 100, jobSlots: 1 },
      2,
    ),
    wallClockLimitMs: 60_000,
  };
}

describe('DockerRunner with the engine it finds', () => {
  it('probes the places in order and asks the engine found over its socket', async () => {
    const podman = await fakeEngine('podman', 'podman');
    const runner = new DockerRunner({
      engine: engineAt(path.join(dir, 'none.sock'), podman.socket),
    });
    expect(runner.podman).toBe(false);
    expect(await runner.probe()).toMatchObject({
      available: true,
      message: 'Podman 9.9',
      engine: 'podman',
      endpoint: `unix://${podman.socket}`,
    });
    expect(runner.podman).toBe(true);
    expect(await runner.hasContainer('j-1')).toBe(true);
    expect(podman.asked).toContain(
      'GET /containers/json?all=1&filters={"label":["copilot.job=j-1","copilot.agent=default","copilot.role=main"]}',
    );
  });

  it('gives Podman jobs explicit open-file and process limits, and Docker jobs none', async () => {
    const docker = await fakeEngine('docker', 'docker');
    const podman = await fakeEngine('podman', 'podman');
    const onDocker = new DockerRunner({ engine: engineAt(docker.socket) });
    await onDocker.probe();
    expect(onDocker.hostConfig(spec()).Ulimits).toBeUndefined();
    const onPodman = new DockerRunner({ engine: engineAt(podman.socket) });
    await onPodman.probe();
    const config = onPodman.hostConfig(spec());
    expect(config.Ulimits).toEqual(PODMAN_ULIMITS);
    // The rest of the sandbox is the same for both engines.
    const { Ulimits: _ulimits, ...rest } = config;
    expect(rest).toEqual(onDocker.hostConfig(spec()));
  });

  it('moves dockerode to another engine when the first goes and a probe finds the next', async () => {
    const first = await fakeEngine('first', 'docker');
    const second = await fakeEngine('second', 'podman');
    const runner = new DockerRunner({ engine: engineAt(first.socket, second.socket) });
    await runner.probe();
    await runner.cleanup('j-1');
    expect(first.asked).toContain('DELETE /containers/first-c1?force=true');

    await stop(first.server);
    expect(await runner.probe()).toMatchObject({ available: true, engine: 'podman' });
    await runner.cleanup('j-1');
    expect(second.asked).toContain('DELETE /containers/second-c1?force=true');

    await stop(second.server);
    const gone = await runner.probe();
    expect(gone).toMatchObject({ available: false });
    // The socket just closed: no socket, or the connection hung up as it closed.
    expect(gone.tried).toEqual([
      `unix://${first.socket}: no socket`,
      expect.stringMatching(new RegExp(`^unix://${second.socket}: (no socket|hung up|refused)$`)),
    ]);
  });
});
