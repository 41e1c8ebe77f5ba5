/**
 * Container overhead: a CPU-bound job (bc computing digits of pi) run bare on the host with
 * execFile and in the hardened job container through the agent's own DockerRunner (its
 * HostConfig: no network, all capabilities dropped, no-new-privileges, read-only root, tmpfs
 * /tmp, CPU/memory/pids limits from the default settings). Plus container start latency:
 * create + attach + start until the first byte of output, with that same HostConfig.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import { DockerRunner, type RunSpec } from '@copilot/core/docker-runner';
import { containerLimits } from '@copilot/core/resource-policy';
import { JOB_IMAGE, ensureDocker, ensureJobImage } from '@test/harness';
import { summarise, type LatencySummary } from './lib/stats';

export interface ContainerResult {
  image: string;
  nanoCpus: number;
  bcScale: number;
  /** Wall seconds of each bare run and each container run, in the order they ran. */
  bareSeconds: number[];
  /** From create to removal, as the agent's DockerRunner.run() takes it. */
  containerTotalSeconds: number[];
  /** The job's own elapsed time inside the container (bash `time`), seconds. */
  containerRunSeconds: number[];
  /** mean container total / mean bare − 1, in percent. */
  overheadPercent: number;
  /** mean in-container elapsed / mean bare − 1, in percent: the cost of running confined. */
  computeOverheadPercent: number;
  start: {
    runs: number;
    /** create → first byte of stdout of `echo`, ms. */
    firstOutputMs: LatencySummary;
    /** create → exit → removed, ms. */
    totalMs: LatencySummary;
  };
}

function runBare(bcFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile('bc', ['-lq', bcFile], { maxBuffer: 64 * 1024 * 1024 }, (error) => {
      if (error) reject(error);
      else resolve((performance.now() - started) / 1000);
    });
  });
}

function writeBc(dir: string, scale: number): string {
  const file = path.join(dir, 'pi.bc');
  fs.writeFileSync(file, `scale=${Math.round(scale)}\n4*a(1)\nquit\n`, { mode: 0o644 });
  return file;
}

/** bc's a(1) costs about scale³: one short run gives the scale for the target duration. */
async function calibrate(dir: string, targetSeconds: number): Promise<number> {
  const probeScale = 2000;
  const seconds = await runBare(writeBc(dir, probeScale));
  return Math.round(probeScale * Math.cbrt(targetSeconds / Math.max(0.05, seconds)));
}

function spec(dir: string, name: string, argv: string[], nanoCpus: number): RunSpec {
  const limits = containerLimits(DEFAULT_SETTINGS, os.cpus().length);
  const outputDir = path.join(dir, `${name}-output`);
  fs.mkdirSync(outputDir, { recursive: true, mode: 0o777 });
  fs.chmodSync(outputDir, 0o777);
  return {
    jobId: `bench-${name}`,
    image: JOB_IMAGE,
    argv,
    env: {},
    network: false,
    inputDir: dir,
    outputDir,
    stdoutPath: path.join(dir, `${name}.stdout`),
    stderrPath: path.join(dir, `${name}.stderr`),
    jobRoot: dir,
    limits: { ...limits, nanoCpus },
    wallClockLimitMs: 600_000,
  };
}

/** A fixed script (no data in it): bash's `time` reports the job's elapsed seconds on stderr. */
const TIMED_BC = ['bash', '-c', 'TIMEFORMAT=%R; time bc -lq /work/pi.bc'];

async function runInContainer(
  runner: DockerRunner,
  runSpec: RunSpec,
): Promise<{ total: number; run: number }> {
  fs.rmSync(runSpec.stdoutPath, { force: true });
  fs.rmSync(runSpec.stderrPath, { force: true });
  const started = performance.now();
  const outcome = await runner.run(runSpec);
  const ended = performance.now();
  if (outcome.state !== 'done') {
    throw new Error(`container run ${outcome.state} (exit ${outcome.exitCode}): ${outcome.error}`);
  }
  const stderr = fs.readFileSync(runSpec.stderrPath, 'utf8').trim().split('\n');
  const elapsed = Number(stderr.at(-1));
  if (!Number.isFinite(elapsed)) throw new Error(`no timing from the container: ${stderr.at(-1)}`);
  return { total: (ended - started) / 1000, run: elapsed };
}

/** create + attach + start of `echo ready` until its first stdout byte, and until removed. */
async function startLatency(
  docker: Docker,
  runner: DockerRunner,
  runSpec: RunSpec,
): Promise<{ first: number; total: number }> {
  const started = performance.now();
  const container = await docker.createContainer({
    Image: runSpec.image,
    Cmd: runSpec.argv,
    Entrypoint: [],
    User: '1000:1000',
    WorkingDir: '/work',
    Tty: false,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: true,
    Labels: { 'copilot.bench': '1' },
    HostConfig: runner.hostConfig(runSpec),
  });
  let first = Number.NaN;
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const firstByte = new Promise<void>((resolve) => {
      stream.once('data', () => {
        first = performance.now() - started;
        resolve();
      });
      stream.once('end', () => resolve());
    });
    const waited = container.wait({ condition: 'next-exit' });
    await container.start();
    await firstByte;
    await waited;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
  return { first, total: performance.now() - started };
}

const mean = (values: number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);

export async function measureContainer(options: {
  quick: boolean;
  log: (line: string) => void;
}): Promise<ContainerResult> {
  const docker = await ensureDocker();
  await ensureJobImage(docker, JOB_IMAGE);
  const runner = new DockerRunner({ docker, agentId: 'bench' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-bench-container-'));
  fs.chmodSync(dir, 0o755);
  try {
    const nanoCpus = containerLimits(DEFAULT_SETTINGS, os.cpus().length).nanoCpus;
    const starts = { first: [] as number[], total: [] as number[] };
    const startRuns = options.quick ? 8 : 20;
    const echoSpec = spec(dir, 'echo', ['echo', 'ready'], nanoCpus);
    await startLatency(docker, runner, echoSpec); // warm-up, not counted
    for (let run = 0; run < startRuns; run += 1) {
      const timing = await startLatency(docker, runner, echoSpec);
      starts.first.push(timing.first);
      starts.total.push(timing.total);
    }

    const target = options.quick ? 5 : 30;
    const scale = await calibrate(dir, target);
    const bcFile = writeBc(dir, scale);
    options.log(`  bc scale ${scale} (about ${target} s per run)`);
    const bcSpec = spec(dir, 'bc', TIMED_BC, nanoCpus);
    const bare: number[] = [];
    const total: number[] = [];
    const running: number[] = [];
    // ABBA in the full run, so a drift in machine load weighs on both sides alike.
    const order = options.quick
      ? ['bare', 'container']
      : ['bare', 'container', 'container', 'bare'];
    for (const kind of order) {
      if (kind === 'bare') {
        bare.push(await runBare(bcFile));
        options.log(`  bare ${bare.at(-1)?.toFixed(2)} s`);
      } else {
        const timing = await runInContainer(runner, bcSpec);
        total.push(timing.total);
        running.push(timing.run);
        options.log(
          `  container ${timing.total.toFixed(2)} s (job itself ${timing.run.toFixed(2)} s)`,
        );
      }
    }
    return {
      image: JOB_IMAGE,
      nanoCpus,
      bcScale: scale,
      bareSeconds: bare,
      containerTotalSeconds: total,
      containerRunSeconds: running,
      overheadPercent: 100 * (mean(total) / mean(bare) - 1),
      computeOverheadPercent: 100 * (mean(running) / mean(bare) - 1),
      start: {
        runs: startRuns,
        firstOutputMs: summarise(starts.first),
        totalMs: summarise(starts.total),
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
