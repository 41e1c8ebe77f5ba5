import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/harness/processes.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where every harness log goes: test-artifacts/logs (override with COPILOT_TEST_ARTIFACTS). */
export function logsDir(): string {
  const base = process.env.COPILOT_TEST_ARTIFACTS ?? path.join(REPO_ROOT, 'test-artifacts');
  const dir = path.join(base, 'logs');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Short name used in the log file name (`<name>-<pid>.log`) and in errors. */
  name: string;
  /** The executable; never run through a shell. */
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Resolves when the service is ready. Runs concurrently with a watch on the process: if the
   * process exits first, startProcess rejects with the log tail. `signal` aborts then.
   */
  ready?: (proc: ServiceProcess, signal: AbortSignal) => Promise<void>;
  /** Default 30 s. */
  readyTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL in stop(); default 5 s. */
  stopGraceMs?: number;
}

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** null while running. */
  exitInfo(): ExitInfo | null;
  isRunning(): boolean;
  /** The last `maxLines` lines of the process's combined stdout/stderr. */
  logTail(maxLines?: number): string;
  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** SIGKILL right away; resolves when the process is gone. */
  kill9(): Promise<ExitInfo>;
}

/** Thrown when a process exits or fails its readiness check; the message holds the log tail. */
export class ProcessStartError extends Error {
  override readonly name = 'ProcessStartError';
  constructor(
    message: string,
    readonly logPath: string,
    readonly logTail: string,
  ) {
    super(`${message}\n--- log ${logPath} (tail) ---\n${logTail}\n--- end of log ---`);
  }
}

/** Children still alive: SIGKILLed if the test process exits without stopping them. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

const TAIL_BYTES = 64 * 1024;

function describeExit(info: ExitInfo): string {
  return info.signal !== null ? `signal ${info.signal}` : `exit code ${String(info.code)}`;
}

/**
 * Spawns a service process with an argument array (no shell), captures stdout and stderr into
 * test-artifacts/logs/<name>-<pid>.log, and waits for `ready`. Rejects with the log tail if the
 * process exits, or `ready` fails or times out, before the service is ready (the process is
 * killed in those cases).
 */
export async function startProcess(options: StartProcessOptions): Promise<ServiceProcess> {
  installExitHook();
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: false,
  });

  const spawned = await new Promise<{ ok: true } | { ok: false; error: Error }>((resolve) => {
    child.once('spawn', () => resolve({ ok: true }));
    child.once('error', (error) => resolve({ ok: false, error }));
  });
  if (!spawned.ok || child.pid === undefined) {
    const reason = spawned.ok ? 'no pid' : spawned.error.message;
    throw new Error(`${options.name}: could not spawn ${options.command}: ${reason}`);
  }
  const pid = child.pid;
  liveChildren.add(child);

  const logPath = path.join(logsDir(), `${options.name}-${pid}.log`);
  // Opened now, not on a later tick: the log exists even for a process killed at once.
  const logStream = fs.createWriteStream(logPath, { fd: fs.openSync(logPath, 'a') });
  logStream.on('error', () => {
    // a broken log file must not crash the test run; the in-memory tail still works
  });
  logStream.write(
    `# ${new Date().toISOString()} ${options.command} ${JSON.stringify(options.args)}\n`,
  );
  let tail = '';
  const capture = (chunk: Buffer): void => {
    logStream.write(chunk);
    tail += chunk.toString('utf8');
    if (tail.length > TAIL_BYTES * 2) tail = tail.slice(-TAIL_BYTES);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);

  let exitInfo: ExitInfo | null = null;
  const exited = new Promise<ExitInfo>((resolve) => {
    let settled = false;
    const settle = (info: ExitInfo): void => {
      if (settled) return;
      settled = true;
      exitInfo = info;
      liveChildren.delete(child);
      logStream.end(`# ${new Date().toISOString()} exited: ${describeExit(info)}\n`);
      resolve(info);
    };
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      liveChildren.delete(child);
      // 'close' normally follows once stdio is drained; don't hang if a grandchild holds it.
      setTimeout(() => settle({ code, signal }), 2_000).unref();
    });
    // 'close' fires after stdio is drained: the log is complete then.
    child.once('close', (code, signal) => settle(exitInfo ?? { code, signal }));
  });

  const logTail = (maxLines = 40): string => {
    const lines = tail.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-maxLines).join('\n');
  };

  const signalAndWait = async (signal: NodeJS.Signals): Promise<ExitInfo> => {
    if (exitInfo === null) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
    return exited;
  };

  const stopGraceMs = options.stopGraceMs ?? 5_000;
  const proc: ServiceProcess = {
    name: options.name,
    pid,
    logPath,
    exited,
    exitInfo: () => exitInfo,
    isRunning: () => exitInfo === null,
    logTail,
    async stop(graceMs = stopGraceMs): Promise<ExitInfo> {
      if (exitInfo !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (exitInfo === null) child.kill('SIGKILL');
      }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    kill9: () => signalAndWait('SIGKILL'),
  };

  if (!options.ready) return proc;

  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  type Outcome = { kind: 'ready' } | { kind: 'failed'; message: string };
  const outcome = await Promise.race<Outcome>([
    options.ready(proc, abort.signal).then(
      (): Outcome => ({ kind: 'ready' }),
      (error: unknown): Outcome => ({
        kind: 'failed',
        message: `readiness check failed: ${error instanceof Error ? error.message : String(error)}`,
      }),
    ),
    exited.then((info): Outcome => ({
      kind: 'failed',
      message: `exited before it was ready (${describeExit(info)})`,
    })),
    new Promise<Outcome>((resolve) => {
      timer = setTimeout(
        () => resolve({ kind: 'failed', message: `not ready after ${readyTimeoutMs} ms` }),
        readyTimeoutMs,
      );
    }),
  ]);
  clearTimeout(timer);
  if (outcome.kind === 'ready') return proc;

  abort.abort(new Error(outcome.message));
  await proc.kill9();
  throw new ProcessStartError(
    `${options.name} (pid ${pid}, ${options.command}): ${outcome.message}`,
    logPath,
    logTail(),
  );
}

export interface RunCommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export interface RunCommandResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion (argument array, no shell). Rejects on a non-zero exit with the
 * command line, exit status and output in the message.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<RunCommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const status =
            error.killed === true
              ? `killed (${String(error.signal)})`
              : `exit ${String(error.code)}`;
          reject(
            new Error(
              `${command} ${args.join(' ')} failed (${status})\n${stderr.trim()}\n${stdout.trim()}`.trim(),
            ),
          );
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}
