/**
 * Runs one job in a hardened Docker container (dockerode):
 *
 * - the job's input dir is bind-mounted read-write at /work (the working directory) and its
 *   output dir at /work/output; stdout and stderr are demultiplexed into two files outside both;
 * - User 1000:1000, CapDrop ALL, no-new-privileges, read-only root file system, a small tmpfs
 *   /tmp, NetworkMode none unless the job asked for network and the volunteer allows it;
 * - NanoCpus, Memory = MemorySwap (no swap) and PidsLimit from the resource policy, changed live
 *   with `container.update`;
 * - disk: vfs has no per-container size quota (StorageOpt needs overlay2 on xfs), so the root
 *   file system is read-only, /tmp is a size-capped tmpfs, and the job dir (work dir, outputs,
 *   stdout, stderr) is measured every few seconds: a job over its disk cap is killed ('failed');
 * - a wall-clock limit (time spent paused does not count): the container is killed, 'timeout';
 * - pause/resume freeze and thaw the container (`container.pause()` / `unpause()`);
 * - CPU seconds are sampled from the container's cgroup stats while it runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type Docker from 'dockerode';
import {
  DockerUnavailableError,
  dockerFailure,
  dockerSocketGet,
  dockerSocketPath,
} from './docker-socket';
import type { DockerState } from '../contract/ui-contract';
import type { ContainerLimits } from './resource-policy';
import { silentLogger, type Logger } from '../base/logger';
import { withTimeout } from '../base/with-timeout';
import { errorMessage } from '../base/errors';

export const DEFAULT_JOB_IMAGE = 'copilot-job:latest';
export const JOB_LABEL = 'copilot.job';
export const AGENT_LABEL = 'copilot.agent';

export type RunState = 'done' | 'failed' | 'timeout' | 'validation-failed';

export interface RunSpec {
  jobId: string;
  image: string;
  argv: string[];
  env: Record<string, string>;
  network: boolean;
  /** Host dirs: inputs (mounted at /work) and outputs (mounted at /work/output). */
  inputDir: string;
  outputDir: string;
  stdoutPath: string;
  stderrPath: string;
  /** Measured against limits.diskBytes. */
  jobRoot: string;
  limits: ContainerLimits;
  wallClockLimitMs: number;
  validationArgv?: string[];
  /** Start frozen (the policy says not now). */
  startPaused?: boolean;
  /** The agent stopping: a container not started yet is not started, one just started is killed. */
  signal?: AbortSignal;
}

export interface RunOutcome {
  exitCode: number;
  state: RunState;
  cpuSeconds: number;
  startedAt: string;
  finishedAt: string;
  error?: string;
}

export interface JobRunner {
  run(spec: RunSpec, onStarted?: (containerId: string) => void): Promise<RunOutcome>;
  pause(jobId: string): Promise<void>;
  resume(jobId: string): Promise<void>;
  update(jobId: string, limits: ContainerLimits): Promise<void>;
  /** CPU seconds used so far by a running job, 0 when unknown. */
  cpuSeconds(jobId: string): number;
  /** Removes containers left over from an earlier run of the agent for this job. */
  cleanup(jobId: string): Promise<void>;
  /** Kills every running job (agent shutdown with abort). */
  killAll(): Promise<void>;
  /** Removes this agent's containers of jobs not in `keep` (left by a crashed agent). */
  sweep(keep: readonly string[]): Promise<number>;
}

export interface DockerRunnerOptions {
  docker?: Docker;
  logger?: Logger;
  /** tmpfs size for /tmp, bytes; default 64 MB (or the disk cap when smaller). */
  tmpBytes?: number;
  /** How often disk use and CPU are measured; default 2000 ms. */
  sampleMs?: number;
  /** Label that tells this agent's containers from others' (e.g. a data dir hash). */
  agentId?: string;
}

interface Active {
  container: Docker.Container;
  paused: boolean;
  wantPaused: boolean;
  pausedAt: number | null;
  pausedMs: number;
  cpuSeconds: number;
  started: boolean;
  /** The pause or unpause under way; one at a time, until `paused` matches `wantPaused`. */
  settling: Promise<void> | undefined;
}

/** Bytes used by the files under `dir` (apparent sizes; symlinks not followed). */
async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else {
        try {
          total += (await fs.promises.lstat(full)).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return total;
}

interface ContainerSummary {
  Id: string;
  Labels?: Record<string, string>;
}

export class DockerRunner implements JobRunner {
  /** Created on first need (see docker-socket.ts), unless one was given. */
  private client: Docker | undefined;
  private loading: Promise<Docker> | undefined;
  /** Where the idle questions go without dockerode; undefined: always use dockerode. */
  private readonly socketPath: string | undefined;
  private readonly logger: Logger;
  private readonly active = new Map<string, Active>();
  private readonly tmpBytes: number;
  private readonly sampleMs: number;
  private readonly agentId: string;

  constructor(options: DockerRunnerOptions = {}) {
    this.client = options.docker;
    this.socketPath = options.docker ? undefined : dockerSocketPath();
    this.logger = options.logger ?? silentLogger;
    this.tmpBytes = options.tmpBytes ?? 64 * 1024 * 1024;
    this.sampleMs = options.sampleMs ?? 2000;
    this.agentId = options.agentId ?? 'default';
  }

  private docker(): Promise<Docker> {
    if (this.client) return Promise.resolve(this.client);
    this.loading ??= import('dockerode').then(({ default: DockerClient }) => {
      this.client = new DockerClient();
      return this.client;
    });
    return this.loading;
  }

  /** Containers with all of `labels`, over the socket while dockerode is not loaded. */
  private async listContainers(labels: string[]): Promise<ContainerSummary[]> {
    if (this.client === undefined && this.socketPath !== undefined) {
      const filters = encodeURIComponent(JSON.stringify({ label: labels }));
      return dockerSocketGet<ContainerSummary[]>(
        this.socketPath,
        `/containers/json?all=1&filters=${filters}`,
        10_000,
      );
    }
    return (await this.docker()).listContainers({ all: true, filters: { label: labels } });
  }

  private async remove(containerId: string): Promise<boolean> {
    const docker = await this.docker();
    return docker
      .getContainer(containerId)
      .remove({ force: true })
      .then(() => true)
      .catch(() => false);
  }

  /** Whether the daemon answers, within `timeoutMs`. */
  async probe(timeoutMs = 5000): Promise<DockerState> {
    try {
      const version =
        this.client === undefined && this.socketPath !== undefined
          ? await dockerSocketGet<{ Version: string }>(this.socketPath, '/version', timeoutMs)
          : await withTimeout((await this.docker()).version(), timeoutMs, 'no answer');
      return { available: true, message: `Docker ${version.Version}`, version: version.Version };
    } catch (error) {
      const classified = dockerFailure(error);
      const detail =
        classified instanceof DockerUnavailableError ? classified.detail : errorMessage(error);
      return { available: false, message: `Docker is not running (${detail})` };
    }
  }

  /** The HostConfig of a job container; exported for tests and documentation. */
  hostConfig(spec: RunSpec): Docker.HostConfig {
    const tmp = Math.max(1024 * 1024, Math.min(this.tmpBytes, spec.limits.diskBytes));
    return {
      Mounts: [
        { Type: 'bind', Source: spec.inputDir, Target: '/work', ReadOnly: false },
        { Type: 'bind', Source: spec.outputDir, Target: '/work/output', ReadOnly: false },
      ],
      NetworkMode: spec.network ? 'bridge' : 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${tmp},mode=1777` },
      NanoCpus: spec.limits.nanoCpus,
      Memory: spec.limits.memoryBytes,
      MemorySwap: spec.limits.memorySwapBytes,
      PidsLimit: spec.limits.pidsLimit,
      Init: false,
      AutoRemove: false,
    };
  }

  /** Rejects with DockerUnavailableError when the daemon goes away before or during the job. */
  run(spec: RunSpec, onStarted?: (containerId: string) => void): Promise<RunOutcome> {
    return this.runJob(spec, onStarted).catch((error: unknown) => {
      throw dockerFailure(error);
    });
  }

  private async runJob(
    spec: RunSpec,
    onStarted?: (containerId: string) => void,
  ): Promise<RunOutcome> {
    const startedAt = new Date().toISOString();
    const main = await this.runContainer(
      spec,
      spec.argv,
      spec.stdoutPath,
      spec.stderrPath,
      onStarted,
    );
    let state: RunState = main.timedOut ? 'timeout' : main.exitCode === 0 ? 'done' : 'failed';
    let error = main.error;
    if (state === 'done' && spec.validationArgv) {
      const root = path.dirname(spec.stdoutPath);
      const validation = await this.runContainer(
        { ...spec, startPaused: false },
        spec.validationArgv,
        path.join(root, 'validation.stdout'),
        path.join(root, 'validation.stderr'),
      );
      main.cpuSeconds += validation.cpuSeconds;
      if (validation.timedOut || validation.exitCode !== 0) {
        state = 'validation-failed';
        error =
          validation.error ??
          `validation ${spec.validationArgv.join(' ')} exited with ${validation.exitCode}`;
      }
    }
    const outcome: RunOutcome = {
      exitCode: main.exitCode,
      state,
      cpuSeconds: main.cpuSeconds,
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    if (error !== undefined) outcome.error = error;
    return outcome;
  }

  private async runContainer(
    spec: RunSpec,
    argv: string[],
    stdoutPath: string,
    stderrPath: string,
    onStarted?: (containerId: string) => void,
  ): Promise<{ exitCode: number; timedOut: boolean; cpuSeconds: number; error?: string }> {
    const docker = await this.docker();
    const container = await docker.createContainer({
      Image: spec.image,
      Cmd: argv,
      Entrypoint: [],
      Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
      User: '1000:1000',
      WorkingDir: '/work',
      Tty: false,
      OpenStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      NetworkDisabled: !spec.network,
      Labels: { [JOB_LABEL]: spec.jobId, [AGENT_LABEL]: this.agentId },
      HostConfig: this.hostConfig(spec),
    });
    const active: Active = {
      container,
      paused: false,
      wantPaused: spec.startPaused ?? false,
      pausedAt: null,
      pausedMs: 0,
      cpuSeconds: 0,
      started: false,
      settling: undefined,
    };
    this.active.set(spec.jobId, active);
    const stdout = fs.createWriteStream(stdoutPath, { flags: 'a', mode: 0o644 });
    const stderr = fs.createWriteStream(stderrPath, { flags: 'a', mode: 0o644 });
    let monitor: NodeJS.Timeout | undefined;
    try {
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      docker.modem.demuxStream(stream, stdout, stderr);
      const streamEnded = once(stream, 'end').catch(() => undefined);
      // 'next-exit': before start, the default 'not-running' would be satisfied at once.
      const waited = container.wait({ condition: 'next-exit' });
      // Awaited below once the job runs; when start fails first, the daemon may fail it too.
      waited.catch(() => undefined);
      if (spec.signal?.aborted) throw new Error('the agent is stopping; container not started');
      await container.start();
      active.started = true;
      // killAll found nothing to kill while the container was starting.
      if (spec.signal?.aborted) await this.kill(active);
      onStarted?.(container.id);
      await this.settle(active);

      let timedOut = false;
      let error: string | undefined;
      const startMs = Date.now();
      let lastSample = 0;
      let sampling = false;
      monitor = setInterval(() => {
        const pausedNow = active.pausedAt === null ? 0 : Date.now() - active.pausedAt;
        const ranMs = Date.now() - startMs - active.pausedMs - pausedNow;
        if (!timedOut && error === undefined && ranMs > spec.wallClockLimitMs) {
          timedOut = true;
          this.logger.warn('wall-clock limit reached; killing the job', { jobId: spec.jobId });
          void this.kill(active);
        }
        if (sampling || Date.now() - lastSample < this.sampleMs) return;
        sampling = true;
        lastSample = Date.now();
        void this.sample(spec, active)
          .then((overDisk) => {
            if (overDisk && error === undefined && !timedOut) {
              error = `the job used more than its disk cap of ${spec.limits.diskBytes} bytes`;
              this.logger.warn('disk cap exceeded; killing the job', { jobId: spec.jobId });
              void this.kill(active);
            }
          })
          .finally(() => {
            sampling = false;
          });
      }, 250);

      const result = (await waited) as { StatusCode?: number };
      clearInterval(monitor);
      monitor = undefined;
      await withTimeout(streamEnded, 5000, 'output stream still open').catch(() => undefined);
      const outcome: { exitCode: number; timedOut: boolean; cpuSeconds: number; error?: string } = {
        exitCode: typeof result.StatusCode === 'number' ? result.StatusCode : -1,
        timedOut,
        cpuSeconds: active.cpuSeconds,
      };
      if (error !== undefined) outcome.error = error;
      if (timedOut)
        outcome.error = `wall-clock limit of ${Math.round(spec.wallClockLimitMs / 1000)} s reached`;
      return outcome;
    } finally {
      if (monitor) clearInterval(monitor);
      this.active.delete(spec.jobId);
      await Promise.all([closeStream(stdout), closeStream(stderr)]);
      await container.remove({ force: true }).catch((error: unknown) => {
        this.logger.warn('could not remove job container', {
          jobId: spec.jobId,
          error: errorMessage(error),
        });
      });
    }
  }

  /** Samples CPU time; returns true when the job dir is over the disk cap. */
  private async sample(spec: RunSpec, active: Active): Promise<boolean> {
    try {
      if (!active.paused) {
        const stats = await active.container.stats({ stream: false, 'one-shot': true });
        const total = stats.cpu_stats?.cpu_usage?.total_usage;
        if (typeof total === 'number' && total / 1e9 > active.cpuSeconds)
          active.cpuSeconds = total / 1e9;
      }
    } catch {
      // the container just ended
    }
    return (await directorySize(spec.jobRoot)) > spec.limits.diskBytes;
  }

  private async kill(active: Active): Promise<void> {
    try {
      if (active.paused) await active.container.unpause().catch(() => undefined);
      await active.container.kill({ signal: 'SIGKILL' });
    } catch (error) {
      this.logger.debug('kill failed', { error: errorMessage(error) });
    }
  }

  /**
   * Freezes or thaws the container until it matches the last wish (`wantPaused`), one Docker call
   * at a time: a resume that arrives while a pause is under way is not lost, and a second pause
   * is not sent to a container being paused.
   */
  private settle(active: Active): Promise<void> {
    if (active.settling) return active.settling;
    if (!active.started || active.paused === active.wantPaused) return Promise.resolve();
    // The first Docker call is awaited before `finally` can run, so it clears this assignment.
    active.settling = (async () => {
      try {
        do {
          if (active.wantPaused) {
            await active.container.pause();
            active.paused = true;
            active.pausedAt = Date.now();
          } else {
            await active.container.unpause();
            active.paused = false;
            if (active.pausedAt !== null) active.pausedMs += Date.now() - active.pausedAt;
            active.pausedAt = null;
          }
        } while (active.paused !== active.wantPaused);
      } finally {
        active.settling = undefined;
      }
    })();
    return active.settling;
  }

  async pause(jobId: string): Promise<void> {
    const active = this.active.get(jobId);
    if (!active) return;
    active.wantPaused = true;
    await this.settle(active);
  }

  async resume(jobId: string): Promise<void> {
    const active = this.active.get(jobId);
    if (!active) return;
    active.wantPaused = false;
    await this.settle(active);
  }

  isPaused(jobId: string): boolean {
    return this.active.get(jobId)?.paused ?? false;
  }

  async update(jobId: string, limits: ContainerLimits): Promise<void> {
    const active = this.active.get(jobId);
    if (!active) return;
    await active.container.update({
      NanoCpus: limits.nanoCpus,
      Memory: limits.memoryBytes,
      MemorySwap: limits.memorySwapBytes,
      PidsLimit: limits.pidsLimit,
    });
  }

  cpuSeconds(jobId: string): number {
    return this.active.get(jobId)?.cpuSeconds ?? 0;
  }

  /** The running job's container, once started. */
  containerId(jobId: string): string | undefined {
    const active = this.active.get(jobId);
    return active?.started ? active.container.id : undefined;
  }

  async cleanup(jobId: string): Promise<void> {
    const containers = await this.listContainers([
      `${JOB_LABEL}=${jobId}`,
      `${AGENT_LABEL}=${this.agentId}`,
    ]);
    for (const info of containers) await this.remove(info.Id);
  }

  async sweep(keep: readonly string[]): Promise<number> {
    const containers = await this.listContainers([`${AGENT_LABEL}=${this.agentId}`]);
    let removed = 0;
    for (const info of containers) {
      const jobId = info.Labels?.[JOB_LABEL];
      if (jobId === undefined || keep.includes(jobId) || this.active.has(jobId)) continue;
      if (await this.remove(info.Id)) removed += 1;
    }
    return removed;
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.active.values()].map((active) => this.kill(active)));
  }
}

function closeStream(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) resolve();
    else stream.end(() => resolve());
  });
}
