import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DockerState } from '@copilot/contract/ui-contract';
import { DockerWatch } from '@copilot/core/docker-watch';
import { createLogger, type LogRecord } from '@copilot/base/logger';

const UP: DockerState = { available: true, message: 'Docker 24.0', version: '24.0' };
const DOWN: DockerState = { available: false, message: 'connect ENOENT /var/run/docker.sock' };
const BACKOFF = { initialMs: 1000, maxMs: 8000, jitter: 0 };
const T0 = Date.UTC(2026, 0, 1);

function watch(answers: DockerState[]): { docker: DockerWatch; logs: LogRecord[]; asked: number } {
  const logs: LogRecord[] = [];
  const rig = {
    logs,
    asked: 0,
    docker: new DockerWatch({
      probe: () => {
        rig.asked += 1;
        const next = answers.shift();
        return next ? Promise.resolve(next) : Promise.reject(new Error('no answer scripted'));
      },
      logger: createLogger('agent', (record) => logs.push(record)),
      backoff: BACKOFF,
    }),
  };
  return rig;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DockerWatch', () => {
  it('has not asked yet at first: unavailable, due at once', () => {
    const { docker } = watch([]);
    expect(docker.available).toBe(false);
    expect(docker.state.message).toBe('Docker not checked yet');
    expect(docker.probing).toBe(false);
    expect(docker.isDue(T0)).toBe(true);
  });

  it('shares one probe between callers while it is under way', async () => {
    let answer: (state: DockerState) => void = () => undefined;
    let asked = 0;
    const docker = new DockerWatch({
      probe: () => {
        asked += 1;
        return new Promise<DockerState>((resolve) => {
          answer = resolve;
        });
      },
      logger: createLogger('agent', () => undefined),
      backoff: BACKOFF,
    });
    const first = docker.probe();
    const second = docker.probe();
    expect(second).toBe(first);
    expect(asked).toBe(1);
    expect(docker.probing).toBe(true);
    answer(UP);
    await Promise.all([first, second]);
    expect(docker.probing).toBe(false);
    expect(docker.available).toBe(true);
    // Once it ended, the next probe asks the engine again.
    const third = docker.probe();
    expect(third).not.toBe(first);
    expect(asked).toBe(2);
    answer(DOWN);
    await third;
    expect(docker.available).toBe(false);
  });

  it('logs each change of state once, not every probe', async () => {
    const { docker, logs } = watch([UP, UP, DOWN, DOWN, UP]);
    for (let i = 0; i < 5; i += 1) await docker.probe();
    expect(logs.map((record) => `${record.level} ${record.message}`)).toEqual([
      'info Docker is available',
      'warn No container engine is running; jobs wait until one is back',
      'info Docker is available',
    ]);
    expect(logs[0]?.fields).toEqual({ version: '24.0' });
    expect(logs[1]?.fields).toEqual({ detail: DOWN.message });
  });

  it('does not log a first probe that finds Docker down (it was not known to be up)', async () => {
    const { docker, logs } = watch([DOWN]);
    await docker.probe();
    expect(logs).toEqual([]);
    expect(docker.state).toEqual({ available: false, message: 'Docker is not running' });
  });

  it('probes again with growing back-off while Docker is down, and every 30 s once it is up', async () => {
    const { docker } = watch([DOWN, DOWN, DOWN, UP, DOWN]);
    await docker.probe();
    expect(docker.isDue(T0 + 999)).toBe(false);
    expect(docker.isDue(T0 + 1000)).toBe(true);

    vi.setSystemTime(T0 + 1000);
    await docker.probe();
    expect(docker.isDue(T0 + 1000 + 1999)).toBe(false);
    expect(docker.isDue(T0 + 1000 + 2000)).toBe(true);

    vi.setSystemTime(T0 + 3000);
    await docker.probe();
    expect(docker.isDue(T0 + 3000 + 3999)).toBe(false);
    expect(docker.isDue(T0 + 3000 + 4000)).toBe(true);

    vi.setSystemTime(T0 + 7000);
    await docker.probe();
    expect(docker.state).toEqual(UP);
    expect(docker.isDue(T0 + 7000 + 29_999)).toBe(false);
    expect(docker.isDue(T0 + 7000 + 30_000)).toBe(true);

    // Up resets the back-off: down again starts from the first delay.
    vi.setSystemTime(T0 + 37_000);
    await docker.probe();
    expect(docker.isDue(T0 + 37_000 + 999)).toBe(false);
    expect(docker.isDue(T0 + 37_000 + 1000)).toBe(true);
  });

  it('keeps the back-off at its maximum', async () => {
    const { docker } = watch(Array.from({ length: 8 }, () => DOWN));
    for (let i = 0; i < 7; i += 1) await docker.probe();
    await docker.probe();
    expect(docker.isDue(T0 + 7999)).toBe(false);
    expect(docker.isDue(T0 + 8000)).toBe(true);
  });

  it('keeps what a probe that looked everywhere found, and logs a switch to another engine', async () => {
    const podman: DockerState = {
      available: true,
      message: 'Podman 4.3.1',
      version: '4.3.1',
      engine: 'podman',
      endpoint: 'unix:///run/podman/podman.sock',
    };
    const none: DockerState = {
      available: false,
      message: 'No container engine (Docker or Podman) answers on this computer',
      tried: ['unix:///var/run/docker.sock: no socket'],
      hostPlatform: 'linux',
    };
    const docker: DockerState = {
      ...UP,
      engine: 'docker',
      endpoint: 'unix:///var/run/docker.sock',
    };
    const { docker: watched, logs } = watch([none, podman, podman, docker]);
    await watched.probe();
    expect(watched.state).toEqual(none);
    for (let i = 0; i < 3; i += 1) await watched.probe();
    expect(watched.state).toEqual(docker);
    expect(logs.map((record) => [record.message, record.fields])).toEqual([
      ['Podman is available', { version: '4.3.1', endpoint: 'unix:///run/podman/podman.sock' }],
      ['Docker is available', { version: '24.0', endpoint: 'unix:///var/run/docker.sock' }],
    ]);
  });
});
