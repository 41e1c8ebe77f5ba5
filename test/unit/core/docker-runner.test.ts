import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentStoppingError, DockerRunner, type RunSpec } from '@copilot/core/docker-runner';
import { DockerUnavailableError } from '@copilot/core/docker-socket';
import { containerLimits } from '@copilot/core/resource-policy';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-runner-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A container whose pause calls wait for the test; a second pause while paused is refused. */
class FakeContainer {
  readonly id = 'container-1';
  readonly calls: string[] = [];
  readonly stream = new PassThrough();
  paused = false;
  running = false;
  pendingPause: (() => void) | undefined;
  private exit: ((result: { StatusCode: number }) => void) | undefined;
  private exitWith: (error: Error) => void = () => undefined;
  private readonly exited = new Promise<{ StatusCode: number }>((resolve, reject) => {
    this.exit = resolve;
    this.exitWith = reject;
  });

  attach(): Promise<PassThrough> {
    return Promise.resolve(this.stream);
  }
  wait(): Promise<{ StatusCode: number }> {
    return this.exited;
  }
  start(): Promise<void> {
    this.calls.push('start');
    this.running = true;
    return Promise.resolve();
  }
  pause(): Promise<void> {
    this.calls.push('pause');
    if (this.paused || this.pendingPause) {
      return Promise.reject(new Error('(HTTP code 409) container is already paused'));
    }
    return new Promise((resolve) => {
      this.pendingPause = () => {
        this.pendingPause = undefined;
        this.paused = true;
        resolve();
      };
    });
  }
  unpause(): Promise<void> {
    this.calls.push('unpause');
    this.paused = false;
    return Promise.resolve();
  }
  kill(): Promise<void> {
    if (!this.running) return Promise.reject(new Error('(HTTP code 409) container is not running'));
    this.calls.push('kill');
    this.finish();
    return Promise.resolve();
  }
  stats(): Promise<object> {
    return Promise.resolve({});
  }
  removed = false;
  remove(): Promise<void> {
    this.removed = true;
    return Promise.resolve();
  }
  /** The daemon went away: start fails, then so does the pending wait. */
  vanish(): void {
    this.start = () => {
      setTimeout(() => this.exitWith(new Error('connect ECONNREFUSED /var/run/docker.sock')), 10);
      return Promise.reject(new Error('connect ECONNREFUSED /var/run/docker.sock'));
    };
  }
  finish(): void {
    this.exit?.({ StatusCode: 0 });
    this.stream.end();
  }
}

function fakeDocker(container: FakeContainer): Docker {
  return {
    createContainer: () => Promise.resolve(container),
    modem: { demuxStream: (stream: PassThrough) => stream.resume() },
  } as unknown as Docker;
}

function spec(startPaused: boolean): RunSpec {
  const input = path.join(dir, 'input');
  const output = path.join(dir, 'output');
  fs.mkdirSync(input);
  fs.mkdirSync(output);
  return {
    jobId: 'job-1',
    image: 'copilot-job:latest',
    argv: ['true'],
    env: {},
    network: false,
    inputDir: input,
    outputDir: output,
    stdoutPath: path.join(dir, 'stdout'),
    stderrPath: path.join(dir, 'stderr'),
    jobRoot: dir,
    limits: containerLimits(
      { cpuLimitPercent: 50, memoryLimitMb: 512, diskLimitMb: 100, jobSlots: 1 },
      2,
    ),
    wallClockLimitMs: 60_000,
    startPaused,
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(condition()).toBe(true);
}

describe('DockerRunner pause and resume', () => {
  it('keeps a resume that arrives while the start-paused freeze is under way', async () => {
    const container = new FakeContainer();
    const runner = new DockerRunner({ docker: fakeDocker(container) });
    const outcome = runner.run(spec(true));
    await until(() => container.pendingPause !== undefined);
    const resumed = runner.resume('job-1');
    container.pendingPause?.();
    await resumed;
    expect(container.calls).toEqual(['start', 'pause', 'unpause']);
    expect(runner.isPaused('job-1')).toBe(false);
    container.finish();
    expect((await outcome).state).toBe('done');
  });

  it('sends one pause when the job is paused as it starts', async () => {
    const container = new FakeContainer();
    const runner = new DockerRunner({ docker: fakeDocker(container) });
    let paused: Promise<void> | undefined;
    const outcome = runner.run(spec(false), () => {
      paused = runner.pause('job-1');
    });
    await until(() => container.pendingPause !== undefined);
    container.pendingPause?.();
    await paused;
    expect(runner.isPaused('job-1')).toBe(true);
    container.finish();
    const result = await outcome;
    expect(container.calls).toEqual(['start', 'pause']);
    expect(result.state).toBe('done');
  });
});

describe('DockerRunner start', () => {
  it('fails the run, and nothing else, when the daemon goes away as the container starts', async () => {
    const container = new FakeContainer();
    container.vanish();
    const runner = new DockerRunner({ docker: fakeDocker(container) });
    await expect(runner.run(spec(false))).rejects.toThrow(/ECONNREFUSED/);
    // The pending wait fails after the run gave up; that must not be an unhandled rejection.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  it('classifies a lost connection to the daemon as DockerUnavailableError', async () => {
    const refused = (): Error =>
      Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), {
        code: 'ECONNREFUSED',
        syscall: 'connect',
      });
    const gone = new FakeContainer();
    gone.start = () => Promise.reject(refused());
    const error: unknown = await new DockerRunner({ docker: fakeDocker(gone) })
      .run(spec(false))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DockerUnavailableError);
    expect((error as Error).message).toBe(
      'Docker is not reachable: connect ECONNREFUSED /var/run/docker.sock',
    );
  });

  it('leaves a failure the daemon reported (no such image) as it is', async () => {
    const noImage = new FakeContainer();
    noImage.start = () => Promise.reject(new Error('(HTTP code 404) No such image: nope:latest'));
    const other: unknown = await new DockerRunner({ docker: fakeDocker(noImage) })
      .run(spec(false))
      .catch((caught: unknown) => caught);
    expect(other).not.toBeInstanceOf(DockerUnavailableError);
    expect((other as Error).message).toMatch(/No such image/);
  });
});

describe('DockerRunner and the agent stopping', () => {
  it('does not start a container made after the agent began to stop', async () => {
    const container = new FakeContainer();
    const runner = new DockerRunner({ docker: fakeDocker(container) });
    const stopping = new AbortController();
    stopping.abort();
    await expect(runner.run({ ...spec(false), signal: stopping.signal })).rejects.toThrow(
      /stopping/,
    );
    expect(container.calls).toEqual([]);
  });

  it('leaves a container started as the agent stops running, for the next start to adopt', async () => {
    const container = new FakeContainer();
    const runner = new DockerRunner({ docker: fakeDocker(container) });
    const stopping = new AbortController();
    container.start = () => {
      container.calls.push('start');
      stopping.abort();
      container.running = true;
      return Promise.resolve();
    };
    await expect(runner.run({ ...spec(false), signal: stopping.signal })).rejects.toBeInstanceOf(
      AgentStoppingError,
    );
    expect(container.calls).not.toContain('kill');
    expect(container.removed).toBe(false);
  });
});

describe('DockerRunner adopting a container of an earlier run', () => {
  /** A Docker with one frozen container of job-1 left by an earlier run, started a minute ago. */
  function leftBehind(container: FakeContainer, startedAt: string) {
    const created: string[] = [];
    const adopted = Object.assign(container, {
      inspect: () =>
        Promise.resolve({
          State: { Status: 'paused', Running: true, Paused: true, StartedAt: startedAt },
        }),
      logs: () => Promise.resolve(container.stream),
      update: () => {
        container.calls.push('update');
        return Promise.resolve();
      },
    });
    const docker = {
      createContainer: () => {
        created.push('new');
        return Promise.resolve(container);
      },
      listContainers: () =>
        Promise.resolve([{ Id: 'container-1', Labels: { 'copilot.job': 'job-1' } }]),
      getContainer: () => adopted,
      modem: { demuxStream: (stream: PassThrough) => stream.resume() },
    } as unknown as Docker;
    container.paused = true;
    container.running = true;
    return { docker, created };
  }

  it('thaws and watches it instead of making a new one, rewriting stdout from its whole log', async () => {
    const container = new FakeContainer();
    const startedAt = new Date(Date.now() - 60_000).toISOString();
    const { docker, created } = leftBehind(container, startedAt);
    const runner = new DockerRunner({ docker });
    fs.writeFileSync(path.join(dir, 'stdout'), 'from the earlier run\n');
    expect(await runner.hasContainer('job-1')).toBe(true);
    let reported = '';
    const outcome = runner.run({ ...spec(false), adopt: true }, (_id, at) => {
      reported = at;
    });
    await until(() => container.calls.includes('unpause'));
    container.finish();
    const result = await outcome;
    expect(created).toEqual([]);
    expect(container.calls).toEqual(['update', 'unpause']);
    expect(reported).toBe(startedAt);
    expect(result).toMatchObject({ state: 'done', startedAt });
    expect(fs.readFileSync(path.join(dir, 'stdout'), 'utf8')).toBe('');
    expect(container.removed).toBe(true);
  });

  it('keeps what the earlier run wrote and attaches when the daemon keeps no log', async () => {
    const container = new FakeContainer();
    const { docker } = leftBehind(container, new Date().toISOString());
    Object.assign(container, {
      logs: () => Promise.reject(new Error('configured logging driver does not support reading')),
    });
    const runner = new DockerRunner({ docker });
    fs.writeFileSync(path.join(dir, 'stdout'), 'from the earlier run\n');
    const outcome = runner.run({ ...spec(false), adopt: true });
    await until(() => container.calls.includes('unpause'));
    container.finish();
    expect((await outcome).state).toBe('done');
    expect(fs.readFileSync(path.join(dir, 'stdout'), 'utf8')).toBe('from the earlier run\n');
  });

  it('counts the wall clock from the container start', async () => {
    const container = new FakeContainer();
    const { docker } = leftBehind(container, new Date(Date.now() - 60_000).toISOString());
    const runner = new DockerRunner({ docker });
    const result = await runner.run({ ...spec(false), adopt: true, wallClockLimitMs: 30_000 });
    expect(result.state).toBe('timeout');
    expect(container.calls).toContain('kill');
  });
});
