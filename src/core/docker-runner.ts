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
 * - CPU seconds are sampled from the container's cgroup stats while it runs;
 * - a job's checkpoint dir is mounted at /checkpoint and its status dir (the progress file) at
 *   /copilot, both under the job dir and so inside its disk cap;
 * - the agent stopping leaves a started container running (or frozen): `run` with `adopt` finds
 *   it again by its labels, re-reads its whole log into stdout and stderr, waits for its exit
 *   and keeps the remaining wall clock (counted from the container's start).
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type Docker from 'dockerode';
import {
  DockerUnavailableError,
  dockerFailure,
  dockerodeOptions,
  engineGet,
  hostContainerEngine,
} from './docker-socket';
import { sameEndpoint, type ContainerEngine, type EngineEndpoint } from './container-engine';
import type { DockerState } from '../contract/ui-contract';
import type { ContainerLimits } from './resource-policy';
import { silentLogger, type Logger } from '../base/logger';
import { withTimeout } from '../base/with-timeout';
import { errorMessage } from '../base/errors';
import type { LocalImage } from './image-cache';
import type { PullEvent } from './job-image';

export const DEFAULT_JOB_IMAGE = 'copilot-job:latest';

/**
 * Podman as root gives each container 1048576 open files and processes, which runc cannot set
 * where root may not raise rlimits (rootful Podman inside a container or VM sandbox: "error
 * setting rlimit type 7"); its jobs get these instead, below both engines' defaults. The
 * processes limit counts the host's uid 1000 as a whole; PidsLimit still caps the job's own.
 */
export const PODMAN_ULIMITS: Docker.HostConfig['Ulimits'] = [
  { Name: 'nofile', Soft: 1024, Hard: 4096 },
  { Name: 'nproc', Soft: 4096, Hard: 4096 },
];

/**
 * Podman's Docker-compatible API has no /containers/{id}/update (4.x answers 404); its own API
 * takes the same limits as OCI resources (`podman update`).
 */
function podmanUpdate(container: Docker.Container, limits: ContainerLimits): Promise<void> {
  const modem = container.modem as {
    dial(options: object, callback: (error: Error | null) => void): void;
  };
  const period = 100_000;
  const resources = {
    cpu: { quota: Math.max(1000, Math.round((limits.nanoCpus / 1e9) * period)), period },
    memory: { limit: limits.memoryBytes, swap: limits.memorySwapBytes },
    pids: { limit: limits.pidsLimit },
  };
  return new Promise((resolve, reject) => {
    modem.dial(
      {
        path: `/v4.0.0/libpod/containers/${encodeURIComponent(container.id)}/update`,
        method: 'POST',
        options: resources,
        statusCodes: {
          200: true,
          201: true,
          204: true,
          404: 'no such container',
          500: 'server error',
        },
      },
      (error) => (error ? reject(error) : resolve()),
    );
  });
}
export const JOB_LABEL = 'copilot.job';
export const AGENT_LABEL = 'copilot.agent';
/** 'main' for the job's command, 'validation' for its validation command. */
export const ROLE_LABEL = 'copilot.role';
/** Where the job sees its checkpoint dir and its status dir (see docs/job-environment.md). */
export const CHECKPOINT_MOUNT = '/checkpoint';
export const STATUS_MOUNT = '/copilot';

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
  /** Host dirs mounted at CHECKPOINT_MOUNT and STATUS_MOUNT when given. */
  checkpointDir?: string;
  statusDir?: string;
  /** Take up this job's container left by an earlier run of the agent, if there is one. */
  adopt?: boolean;
  /**
   * The agent stopping: a container not started yet is not started; a started one is left
   * running (rejects with AgentStoppingError), to be adopted by the next start.
   */
  signal?: AbortSignal;
}

/** The agent stopped while the job's container ran; the container is left to be adopted. */
export class AgentStoppingError extends Error {
  constructor() {
    super('the agent is stopping; the container is left running');
  }
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
  /** `onStarted` gets the container's start time (earlier than now for an adopted one). */
  run(
    spec: RunSpec,
    onStarted?: (containerId: string, startedAt: string) => void,
  ): Promise<RunOutcome>;
  /** Whether this agent has a container of the job's command from an earlier run. */
  hasContainer(jobId: string): Promise<boolean>;
  pause(jobId: string): Promise<void>;
  resume(jobId: string): Promise<void>;
  update(jobId: string, limits: ContainerLimits): Promise<void>;
  /** CPU seconds used so far by a running job, 0 when unknown. */
  cpuSeconds(jobId: string): number;
  /** Removes containers left over from an earlier run of the agent for this job. */
  cleanup(jobId: string): Promise<void>;
  /** Kills every running job (an explicit abort; a plain agent stop leaves them running). */
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
  /**
   * Where the engine is looked for (container-engine.ts); default this computer's places
   * (DOCKER_HOST, Docker Desktop, rootless Docker, Podman…). Not used when `docker` is given.
   */
  engine?: ContainerEngine;
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

interface ContainerRun {
  exitCode: number;
  timedOut: boolean;
  cpuSeconds: number;
  startedAt: string;
  error?: string;
}

/** A container to watch: made for this run, or adopted from an earlier run of the agent. */
interface Watched {
  container: Docker.Container;
  adopted: boolean;
  /** When the container started (adopted), for the wall clock. */
  startedAtMs: number | null;
  paused: boolean;
}

interface ContainerSummary {
  Id: string;
  Labels?: Record<string, string>;
}

export class DockerRunner implements JobRunner {
  /** Created on first need (see docker-socket.ts), unless one was given. */
  private client: Docker | undefined;
  private loading: Promise<Docker> | undefined;
  /** The engine found (the idle questions go to it without dockerode); undefined: `docker` given. */
  private readonly engine: ContainerEngine | undefined;
  /** Where `client` was made for; a probe that finds another engine makes a new one. */
  private clientFor: EngineEndpoint | undefined;
  private readonly logger: Logger;
  private readonly active = new Map<string, Active>();
  private readonly tmpBytes: number;
  private readonly sampleMs: number;
  private readonly agentId: string;

  constructor(options: DockerRunnerOptions = {}) {
    this.client = options.docker;
    this.engine = options.docker ? undefined : (options.engine ?? hostContainerEngine());
    this.logger = options.logger ?? silentLogger;
    this.tmpBytes = options.tmpBytes ?? 64 * 1024 * 1024;
    this.sampleMs = options.sampleMs ?? 2000;
    this.agentId = options.agentId ?? 'default';
  }

  /**
   * dockerode for the engine found: kept while that engine answers (or none does: its calls then
   * fail as DockerUnavailableError), made again when a probe finds another one.
   */
  private docker(): Promise<Docker> {
    const found = this.engine?.current;
    const stale =
      found !== undefined &&
      this.clientFor !== undefined &&
      !sameEndpoint(found.endpoint, this.clientFor);
    if (this.client && !stale) return Promise.resolve(this.client);
    this.loading ??= this.connect().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async connect(): Promise<Docker> {
    const engine = this.engine as ContainerEngine;
    if (engine.current === undefined) await engine.locate();
    const found = engine.current;
    if (found === undefined) throw new DockerUnavailableError('no container engine answers');
    const { default: DockerClient } = await import('dockerode');
    this.client = new DockerClient(dockerodeOptions(found.endpoint));
    this.clientFor = found.endpoint;
    return this.client;
  }

  /** Whether the engine in use is Podman (its Docker-compatible API differs in a few places). */
  get podman(): boolean {
    return this.engine?.current?.name === 'podman';
  }

  /** Containers with all of `labels`, over the socket while dockerode is not loaded. */
  private async listContainers(labels: string[]): Promise<ContainerSummary[]> {
    const found = this.engine?.current;
    if (this.client === undefined && found !== undefined) {
      const filters = encodeURIComponent(JSON.stringify({ label: labels }));
      return engineGet<ContainerSummary[]>(
        found.endpoint,
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

  /**
   * Whether the engine answers, within `timeoutMs`: the one found before, else every place it
   * may be (container-engine.ts); the state says which engine answered and where.
   */
  async probe(timeoutMs = 5000): Promise<DockerState> {
    if (this.engine) return this.engine.locate(timeoutMs);
    try {
      const version = await withTimeout((await this.docker()).version(), timeoutMs, 'no answer');
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
    const mounts: Docker.MountSettings[] = [
      { Type: 'bind', Source: spec.inputDir, Target: '/work', ReadOnly: false },
      { Type: 'bind', Source: spec.outputDir, Target: '/work/output', ReadOnly: false },
    ];
    if (spec.checkpointDir !== undefined)
      mounts.push({ Type: 'bind', Source: spec.checkpointDir, Target: CHECKPOINT_MOUNT });
    if (spec.statusDir !== undefined)
      mounts.push({ Type: 'bind', Source: spec.statusDir, Target: STATUS_MOUNT });
    return {
      Mounts: mounts,
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
      ...(this.podman ? { Ulimits: PODMAN_ULIMITS } : {}),
    };
  }

  /** Rejects with DockerUnavailableError when the daemon goes away before or during the job. */
  run(
    spec: RunSpec,
    onStarted?: (containerId: string, startedAt: string) => void,
  ): Promise<RunOutcome> {
    return this.runJob(spec, onStarted).catch((error: unknown) => {
      if (error instanceof AgentStoppingError) throw error;
      throw dockerFailure(error);
    });
  }

  async hasContainer(jobId: string): Promise<boolean> {
    try {
      return (await this.jobContainers(jobId, 'main')).length > 0;
    } catch (error) {
      throw dockerFailure(error);
    }
  }

  private jobContainers(jobId: string, role?: string): Promise<ContainerSummary[]> {
    const labels = [`${JOB_LABEL}=${jobId}`, `${AGENT_LABEL}=${this.agentId}`];
    if (role !== undefined) labels.push(`${ROLE_LABEL}=${role}`);
    return this.listContainers(labels);
  }

  private async runJob(
    spec: RunSpec,
    onStarted?: (containerId: string, startedAt: string) => void,
  ): Promise<RunOutcome> {
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
      // A validation cut short by an agent stop runs again.
      for (const info of await this.jobContainers(spec.jobId, 'validation'))
        await this.remove(info.Id);
      const validation = await this.runContainer(
        { ...spec, startPaused: false, adopt: false },
        spec.validationArgv,
        path.join(root, 'validation.stdout'),
        path.join(root, 'validation.stderr'),
        undefined,
        'validation',
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
      startedAt: main.startedAt,
      finishedAt: new Date().toISOString(),
    };
    if (error !== undefined) outcome.error = error;
    return outcome;
  }

  /** This job's container left by an earlier run of the agent (when adopting), or a new one. */
  private async containerFor(spec: RunSpec, argv: string[], role: string): Promise<Watched> {
    const docker = await this.docker();
    if (spec.adopt) {
      for (const found of await this.jobContainers(spec.jobId, 'main')) {
        const container = docker.getContainer(found.Id);
        const { State } = await container.inspect();
        const startedAtMs = Date.parse(State.StartedAt);
        if (State.Status === 'created' || !Number.isFinite(startedAtMs)) {
          await this.remove(found.Id); // made, never started: start afresh
          continue;
        }
        // The settings may have changed while the agent was down.
        if (State.Running) await this.applyLimits(container, spec.limits).catch(() => undefined);
        this.logger.info('adopting the job container left by an earlier run', {
          jobId: spec.jobId,
          status: State.Status,
        });
        return { container, adopted: true, startedAtMs, paused: State.Paused };
      }
    }
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
      Labels: { [JOB_LABEL]: spec.jobId, [AGENT_LABEL]: this.agentId, [ROLE_LABEL]: role },
      HostConfig: this.hostConfig(spec),
    });
    return { container, adopted: false, startedAtMs: null, paused: false };
  }

  private async runContainer(
    spec: RunSpec,
    argv: string[],
    stdoutPath: string,
    stderrPath: string,
    onStarted?: (containerId: string, startedAt: string) => void,
    role: 'main' | 'validation' = 'main',
  ): Promise<ContainerRun> {
    const docker = await this.docker();
    const watched = await this.containerFor(spec, argv, role);
    const { container, adopted } = watched;
    const active: Active = {
      container,
      paused: watched.paused,
      wantPaused: spec.startPaused ?? false,
      pausedAt: watched.paused ? Date.now() : null,
      pausedMs: 0,
      cpuSeconds: 0,
      started: adopted,
      settling: undefined,
    };
    this.active.set(spec.jobId, active);
    let detached = false;
    let output: NodeJS.ReadableStream | undefined;
    let files: fs.WriteStream[] = [];
    try {
      const replay = adopted ? await this.replayLog(container, spec.jobId) : undefined;
      output = replay ?? (await container.attach({ stream: true, stdout: true, stderr: true }));
      // An adopted container's whole log replaces what the earlier run of the agent had written.
      const flags = replay ? 'w' : 'a';
      const stdout = fs.createWriteStream(stdoutPath, { flags, mode: 0o644 });
      const stderr = fs.createWriteStream(stderrPath, { flags, mode: 0o644 });
      files = [stdout, stderr];
      docker.modem.demuxStream(output, stdout, stderr);
      const streamEnded = once(output, 'end').catch(() => undefined);
      // 'next-exit': before start, the default 'not-running' would be satisfied at once.
      const waited = container.wait({ condition: adopted ? 'not-running' : 'next-exit' });
      // Awaited below once the job runs; when start fails first, the daemon may fail it too.
      waited.catch(() => undefined);
      let startedAtMs = watched.startedAtMs ?? Date.now();
      if (!adopted) {
        if (spec.signal?.aborted) throw new Error('the agent is stopping; container not started');
        await container.start();
        active.started = true;
        startedAtMs = Date.now();
      }
      onStarted?.(container.id, new Date(startedAtMs).toISOString());
      await this.settle(active);
      const exit = await this.watch(spec, active, waited, startedAtMs);
      if (exit === 'stopping') {
        detached = true;
        throw new AgentStoppingError();
      }
      await withTimeout(streamEnded, 5000, 'output stream still open').catch(() => undefined);
      return {
        ...exit,
        cpuSeconds: active.cpuSeconds,
        startedAt: new Date(startedAtMs).toISOString(),
      };
    } finally {
      this.active.delete(spec.jobId);
      if (detached) (output as { destroy?: () => void } | undefined)?.destroy?.();
      await Promise.all(files.map(closeStream));
      if (!detached) {
        await container.remove({ force: true }).catch((error: unknown) => {
          this.logger.warn('could not remove job container', {
            jobId: spec.jobId,
            error: errorMessage(error),
          });
        });
      }
    }
  }

  /**
   * The whole log of an adopted container, followed to its exit; undefined when the daemon keeps
   * none (log driver `none`): then only what the job writes from now on is kept (attach).
   */
  private async replayLog(
    container: Docker.Container,
    jobId: string,
  ): Promise<NodeJS.ReadableStream | undefined> {
    try {
      return await container.logs({ follow: true, stdout: true, stderr: true });
    } catch (error) {
      this.logger.warn('the adopted container keeps no log; its earlier output is lost', {
        jobId,
        error: errorMessage(error),
      });
      return undefined;
    }
  }

  /**
   * Waits for the container's exit while enforcing the wall clock (time frozen does not count)
   * and the disk cap; 'stopping' when the agent stops first (the container is left running).
   */
  private async watch(
    spec: RunSpec,
    active: Active,
    waited: Promise<unknown>,
    startMs: number,
  ): Promise<{ exitCode: number; timedOut: boolean; error?: string } | 'stopping'> {
    let timedOut = false;
    let error: string | undefined;
    let lastSample = 0;
    let sampling = false;
    const monitor = setInterval(() => {
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
    const stopping = new Promise<'stopping'>((resolve) => {
      if (spec.signal?.aborted) resolve('stopping');
      spec.signal?.addEventListener('abort', () => resolve('stopping'), { once: true });
    });
    try {
      const result = await Promise.race([waited as Promise<{ StatusCode?: number }>, stopping]);
      if (result === 'stopping') return 'stopping';
      const exit: { exitCode: number; timedOut: boolean; error?: string } = {
        exitCode: typeof result.StatusCode === 'number' ? result.StatusCode : -1,
        timedOut,
      };
      if (error !== undefined) exit.error = error;
      if (timedOut)
        exit.error = `wall-clock limit of ${Math.round(spec.wallClockLimitMs / 1000)} s reached`;
      return exit;
    } finally {
      clearInterval(monitor);
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
    await this.applyLimits(active.container, limits);
  }

  private async applyLimits(container: Docker.Container, limits: ContainerLimits): Promise<void> {
    if (this.podman) {
      await podmanUpdate(container, limits);
      return;
    }
    await container.update({
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
    for (const info of await this.jobContainers(jobId)) await this.remove(info.Id);
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

  /** The local image by that reference; undefined when the engine has none (404). */
  async inspectImage(reference: string): Promise<LocalImage | undefined> {
    const docker = await this.docker();
    try {
      const info = await docker.getImage(reference).inspect();
      return { id: info.Id, sizeBytes: info.Size, repoDigests: info.RepoDigests ?? [] };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw dockerFailure(error);
    }
  }

  /**
   * Pulls `reference` (pinned by digest: the engine checks the manifest against it), each line
   * of the engine's progress to `onEvent`. A registry on loopback is spoken to in plain HTTP
   * (dockerd treats 127.0.0.0/8 as insecure by default).
   */
  async pullImage(
    reference: string,
    onEvent: (event: PullEvent) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const docker = await this.docker();
    let stream: NodeJS.ReadableStream & { destroy?: (error?: Error) => void };
    try {
      stream = (await docker.pull(reference)) as typeof stream;
    } catch (error) {
      throw dockerFailure(error);
    }
    const stop = (): void => stream.destroy?.(new Error('the agent is stopping; pull abandoned'));
    if (signal?.aborted) stop();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(
          stream,
          (error: Error | null) => (error ? reject(error) : resolve()),
          (event: PullEvent) => onEvent(event),
        );
      });
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  /** Untags and, when nothing else uses it, deletes the image (never forced). */
  async removeImage(reference: string): Promise<void> {
    const docker = await this.docker();
    await docker.getImage(reference).remove();
  }
}

function closeStream(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) resolve();
    else stream.end(() => resolve());
  });
}
