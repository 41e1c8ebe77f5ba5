// The Docker runner against the real dockerd and copilot-job:latest: hardening, limits, pause,
// timeout, validation, stdout/stderr demultiplexing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { ensureDocker, JOB_IMAGE } from '@test/harness';
import { DockerRunner, type RunSpec } from '@copilot/core/docker-runner';
import { containerLimits } from '@copilot/core/resource-policy';
import { programArgv } from '@copilot/core/job-command';

let docker: Docker;
let root: string;

beforeAll(async () => {
  docker = await ensureDocker();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-runner-'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function jobSpec(
  jobId: string,
  files: Record<string, string>,
  command: string,
  args: string[] = [],
): RunSpec {
  const jobRoot = path.join(root, jobId);
  const inputDir = path.join(jobRoot, 'input');
  const outputDir = path.join(jobRoot, 'output');
  for (const dir of [inputDir, outputDir]) {
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, 0o777);
  }
  for (const [name, text] of Object.entries(files))
    fs.writeFileSync(path.join(inputDir, name), text);
  return {
    jobId,
    image: JOB_IMAGE,
    argv: programArgv(command, args, inputDir),
    env: { GREETING: 'hello world' },
    network: false,
    inputDir,
    outputDir,
    stdoutPath: path.join(jobRoot, 'stdout'),
    stderrPath: path.join(jobRoot, 'stderr'),
    jobRoot,
    limits: containerLimits(
      { cpuLimitPercent: 50, memoryLimitMb: 256, diskLimitMb: 100, jobSlots: 1 },
      2,
    ),
    wallClockLimitMs: 60_000,
  };
}

async function waitForContainer(runner: DockerRunner, jobId: string): Promise<Docker.Container> {
  for (let i = 0; i < 100; i += 1) {
    const id = runner.containerId(jobId);
    if (id) return docker.getContainer(id);
    await sleep(100);
  }
  throw new Error(`no container for ${jobId}`);
}

describe('DockerRunner', () => {
  it('runs calculator.sh hardened: stdout 4, CapDrop ALL, read-only root, no network, uid 1000, limits', async () => {
    const runner = new DockerRunner({ docker });
    const spec = jobSpec(
      'calc-1',
      {
        'calculator.sh':
          '#!/bin/bash\necho "2+2" | bc\nid -u >&2\necho "$GREETING" > output/greeting.txt\nsleep 1\n',
      },
      'calculator.sh',
    );
    const running = runner.run(spec);
    const container = await waitForContainer(runner, 'calc-1');
    const info = await container.inspect();
    const outcome = await running;
    expect(outcome).toMatchObject({ exitCode: 0, state: 'done' });
    expect(fs.readFileSync(spec.stdoutPath, 'utf8')).toBe('4\n');
    expect(fs.readFileSync(spec.stderrPath, 'utf8')).toBe('1000\n');
    expect(fs.readFileSync(path.join(spec.outputDir, 'greeting.txt'), 'utf8')).toBe(
      'hello world\n',
    );
    expect(info.Config.User).toBe('1000:1000');
    expect(info.Config.Cmd).toEqual(['./calculator.sh']);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(info.HostConfig.PidsLimit).toBe(256);
    expect(info.HostConfig.NanoCpus).toBe(1_000_000_000);
    expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(256 * 1024 * 1024);
    expect(Object.keys(info.HostConfig.Tmpfs ?? {})).toEqual(['/tmp']);
    // the container is gone afterwards
    await expect(container.inspect()).rejects.toThrow();
  });

  it('reports a non-zero exit code as failed and keeps stderr', async () => {
    const runner = new DockerRunner({ docker });
    const spec = jobSpec(
      'fail-1',
      { 'fail.sh': '#!/bin/bash\necho oops >&2\nexit 3\n' },
      'fail.sh',
    );
    const outcome = await runner.run(spec);
    expect(outcome).toMatchObject({ exitCode: 3, state: 'failed' });
    expect(fs.readFileSync(spec.stderrPath, 'utf8')).toBe('oops\n');
  });

  it('cannot write outside /work and /tmp', async () => {
    const runner = new DockerRunner({ docker });
    const spec = jobSpec(
      'ro-1',
      {
        'write.sh':
          '#!/bin/bash\ntouch /etc/x 2>/dev/null && echo etc-writable\necho ok > /tmp/t && cat /tmp/t\n',
      },
      'write.sh',
    );
    const outcome = await runner.run(spec);
    expect(outcome.state).toBe('done');
    expect(fs.readFileSync(spec.stdoutPath, 'utf8')).toBe('ok\n');
  });

  it('kills a job at the wall-clock limit: state timeout', async () => {
    const runner = new DockerRunner({ docker });
    const spec = {
      ...jobSpec('slow-1', { 'spin.sh': '#!/bin/bash\nwhile :; do :; done\n' }, 'spin.sh'),
      wallClockLimitMs: 3000,
    };
    const started = Date.now();
    const outcome = await runner.run(spec);
    expect(outcome.state).toBe('timeout');
    // CPU time sampled from the container's cgroup while it ran (NanoCpus allows one core)
    expect(outcome.cpuSeconds).toBeGreaterThan(0.5);
    expect(outcome.cpuSeconds).toBeLessThan(4);
    expect(outcome.exitCode).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('pauses (State.Paused true) and resumes a running container; the job then finishes', async () => {
    const runner = new DockerRunner({ docker });
    const spec = jobSpec(
      'pause-1',
      { 'count.sh': '#!/bin/bash\nfor i in 1 2 3; do echo $i; sleep 0.5; done\n' },
      'count.sh',
    );
    const running = runner.run(spec);
    const container = await waitForContainer(runner, 'pause-1');
    await runner.pause('pause-1');
    expect((await container.inspect()).State.Paused).toBe(true);
    await sleep(2500);
    // frozen: it cannot have finished while paused
    expect((await container.inspect()).State.Running).toBe(true);
    await runner.update(
      'pause-1',
      containerLimits(
        { cpuLimitPercent: 25, memoryLimitMb: 128, diskLimitMb: 100, jobSlots: 1 },
        2,
      ),
    );
    expect((await container.inspect()).HostConfig.NanoCpus).toBe(500_000_000);
    await runner.resume('pause-1');
    expect((await container.inspect()).State.Paused).toBe(false);
    const outcome = await running;
    expect(outcome.state).toBe('done');
    expect(fs.readFileSync(spec.stdoutPath, 'utf8')).toBe('1\n2\n3\n');
  });

  it('a job passing its validation script stays done', async () => {
    const runner = new DockerRunner({ docker });
    const spec = jobSpec(
      'valid-2',
      {
        'job.sh': '#!/bin/bash\necho 4 > output/answer\n',
        'check.sh': '#!/bin/bash\ngrep -qx 4 output/answer\n',
      },
      'job.sh',
    );
    spec.validationArgv = programArgv('check.sh', [], spec.inputDir);
    expect(await runner.run(spec)).toMatchObject({ state: 'done', exitCode: 0 });
  });

  it('kills a job that writes more than its disk cap', async () => {
    const runner = new DockerRunner({ docker, sampleMs: 200 });
    const spec = jobSpec(
      'disk-1',
      { 'fill.sh': '#!/bin/bash\nhead -c 3000000 /dev/zero > output/big\nsleep 30\n' },
      'fill.sh',
    );
    spec.limits = { ...spec.limits, diskBytes: 1_000_000 };
    const outcome = await runner.run(spec);
    expect(outcome.state).toBe('failed');
    expect(outcome.error).toMatch(/more than its disk cap of 1000000 bytes/);
  });

  it('runs the validation script after the job: non-zero is validation-failed', async () => {
    const runner = new DockerRunner({ docker });
    const spec = jobSpec(
      'valid-1',
      {
        'job.sh': '#!/bin/bash\necho 5 > output/answer\n',
        'check.sh': '#!/bin/bash\ngrep -qx 4 output/answer\n',
      },
      'job.sh',
    );
    spec.validationArgv = programArgv('check.sh', [], spec.inputDir);
    const outcome = await runner.run(spec);
    expect(outcome.state).toBe('validation-failed');
    expect(outcome.exitCode).toBe(0);
    expect(outcome.error).toMatch(/validation \.\/check\.sh exited with 1/);
  });
});

describe('DockerRunner.sweep', () => {
  it("removes this agent's containers of jobs no longer in hand, and nothing else", async () => {
    const runner = new DockerRunner({ docker, agentId: 'sweep-test' });
    const make = (agent: string, job: string): Promise<Docker.Container> =>
      docker.createContainer({
        Image: JOB_IMAGE,
        Cmd: ['true'],
        Labels: { 'copilot.agent': agent, 'copilot.job': job },
        HostConfig: { NetworkMode: 'none' },
      });
    const gone = await make('sweep-test', 'gone-job');
    const kept = await make('sweep-test', 'kept-job');
    const other = await make('someone-else', 'gone-job');
    try {
      expect(await runner.sweep(['kept-job'])).toBe(1);
      await expect(gone.inspect()).rejects.toThrow();
      expect((await kept.inspect()).Id).toBe(kept.id);
      expect((await other.inspect()).Id).toBe(other.id);
    } finally {
      for (const container of [gone, kept, other])
        await container.remove({ force: true }).catch(() => undefined);
    }
  });
});
