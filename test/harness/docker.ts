import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import type { HostConfig } from 'dockerode';
import { REPO_ROOT, logsDir, runCommand } from './processes';

export const JOB_IMAGE = 'copilot-job:latest';
export const JOB_IMAGE_SCRIPT = path.join(REPO_ROOT, 'assets', 'job-image', 'build-job-image.sh');
/** Label the build script puts on the image: sha256 of the script that built it. */
export const JOB_IMAGE_RECIPE_LABEL = 'copilot.job-image.recipe';

const DOCKERD_ARGS = ['--storage-driver=vfs', '--iptables=false', '--bridge=none'];

async function pingOk(docker: Docker, timeoutMs = 3_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      docker.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function tailOfFile(file: string, maxLines = 30): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    return lines.slice(-maxLines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * A Docker client whose daemon answers. Reuses a running daemon; otherwise starts
 * `dockerd --storage-driver=vfs --iptables=false --bridge=none` detached (it is a machine daemon
 * and is left running), logging to test-artifacts/logs/dockerd.log, and waits for it to answer a
 * ping. Throws a clear error when that fails: tests that need Docker must fail, not skip.
 */
export async function ensureDocker(options: { timeoutMs?: number } = {}): Promise<Docker> {
  const docker = new Docker();
  if (await pingOk(docker)) return docker;

  const timeoutMs = options.timeoutMs ?? 60_000;
  if (process.env.DOCKER_HOST && !process.env.DOCKER_HOST.startsWith('unix://')) {
    throw new Error(
      `ensureDocker: DOCKER_HOST=${process.env.DOCKER_HOST} does not answer, and a remote daemon cannot be started from here`,
    );
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      'ensureDocker: the Docker daemon does not answer and only root can start dockerd; run `sudo bash scripts/setup.sh` (it starts dockerd)',
    );
  }

  const logPath = path.join(logsDir(), 'dockerd.log');
  const fd = fs.openSync(logPath, 'a');
  let spawnError: Error | undefined;
  let exitedEarly: string | undefined;
  try {
    const child = spawn('dockerd', DOCKERD_ARGS, {
      detached: true,
      stdio: ['ignore', fd, fd],
      shell: false,
    });
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('exit', (code, signal) => {
      // Another dockerd may have won the race for the pidfile; keep pinging until the deadline.
      exitedEarly = signal ? `signal ${signal}` : `exit code ${String(code)}`;
    });
    child.unref();
  } finally {
    fs.closeSync(fd);
  }

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pingOk(docker)) return docker;
    if (spawnError) {
      throw new Error(
        `ensureDocker: could not start dockerd (${spawnError.message}); install docker.io (bash scripts/setup.sh)`,
      );
    }
    await sleep(250);
  }
  throw new Error(
    `ensureDocker: the Docker daemon did not answer within ${timeoutMs} ms` +
      (exitedEarly ? ` (dockerd exited: ${exitedEarly})` : '') +
      `\n--- ${logPath} (tail) ---\n${tailOfFile(logPath)}`,
  );
}

function recipeOf(script: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(script)).digest('hex');
}

/**
 * Makes sure the job image exists and was built from the current build script (its recipe label
 * is the script's sha256); otherwise runs assets/job-image/build-job-image.sh.
 */
export async function ensureJobImage(docker: Docker, image = JOB_IMAGE): Promise<void> {
  const recipe = recipeOf(JOB_IMAGE_SCRIPT);
  const labelOf = async (): Promise<string | undefined> => {
    try {
      const info = await docker.getImage(image).inspect();
      return info.Config.Labels?.[JOB_IMAGE_RECIPE_LABEL] ?? '';
    } catch {
      return undefined;
    }
  };
  if ((await labelOf()) === recipe) return;
  await runCommand('bash', [JOB_IMAGE_SCRIPT, image], { cwd: REPO_ROOT, timeoutMs: 300_000 });
  const label = await labelOf();
  if (label === undefined) {
    throw new Error(`ensureJobImage: ${image} still missing after ${JOB_IMAGE_SCRIPT}`);
  }
}

export interface RunContainerOptions {
  image?: string;
  cmd: string[];
  /** Overrides the image's USER (1000:1000 for the job image). */
  user?: string;
  env?: string[];
  hostConfig?: HostConfig;
  /** Kill the container after this long; default 60 s. */
  timeoutMs?: number;
}

export interface RunContainerResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Splits Docker's multiplexed (non-TTY) log stream into stdout and stderr. */
export function demuxDockerLog(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + 8, offset + 8 + size);
    if (stream === 2) err.push(payload);
    else out.push(payload);
    offset += 8 + size;
  }
  return {
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/** Runs a command in a fresh container to completion and removes the container. */
export async function runContainer(
  docker: Docker,
  options: RunContainerOptions,
): Promise<RunContainerResult> {
  const container = await docker.createContainer({
    Image: options.image ?? JOB_IMAGE,
    Cmd: options.cmd,
    User: options.user,
    Env: options.env,
    Tty: false,
    AttachStdout: false,
    AttachStderr: false,
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none', ...options.hostConfig },
    Labels: { 'copilot.test-harness': '1' },
  });
  try {
    await container.start();
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const waited: unknown = await Promise.race([
      container.wait(),
      new Promise((resolve) => {
        timer = setTimeout(() => {
          container.kill().catch(() => undefined);
          resolve({ StatusCode: 137, timedOut: true });
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const statusCode =
      typeof waited === 'object' && waited !== null && 'StatusCode' in waited
        ? Number((waited as { StatusCode: unknown }).StatusCode)
        : -1;
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    return { exitCode: statusCode, ...demuxDockerLog(logs) };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
