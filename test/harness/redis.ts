import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { startProcess } from './processes';
import type { ServiceProcess } from './processes';

export interface RedisOptions {
  /**
   * Keep data across restart() and kill9(): append-only file with fsync on every write, in
   * `dataDir` (a fresh temp dir when unset). Default false: `--save '' --appendonly no`.
   */
  persistent?: boolean;
  /** Data dir (kept on stop() when given by the caller; a temp dir is deleted). */
  dataDir?: string;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '64mb']. */
  extraArgs?: string[];
  /** Default 15 s. */
  readyTimeoutMs?: number;
}

export interface RedisServer {
  readonly host: '127.0.0.1';
  /** Stays the same across restart(). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly dataDir: string;
  readonly process: ServiceProcess;
  /** SIGTERM (SIGKILL after 5 s); deletes the temp data dir. */
  stop(): Promise<void>;
  /** SIGKILL; restart() can bring it back (with its data when persistent). */
  kill9(): Promise<void>;
  /** Stops (if running) and starts again on the same port and data dir. */
  restart(): Promise<void>;
}

/** One PING over a raw socket; resolves when the answer is +PONG. */
export function redisPing(port: number, host = '127.0.0.1', timeoutMs = 2_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    let received = '';
    const finish = (error?: Error): void => {
      socket.removeAllListeners();
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`redis PING timed out on ${port}`)));
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (!received.includes('\r\n')) return;
      if (received.startsWith('+PONG')) finish();
      // -LOADING while an AOF is replayed, for example
      else finish(new Error(`redis PING answered ${received.trim()}`));
    });
  });
}

/** Starts a private redis-server on a free 127.0.0.1 port. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-redis-'));
  fs.mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const persistence = options.persistent
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
    : ['--save', '', '--appendonly', 'no'];
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dataDir,
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--databases',
    '16',
    ...persistence,
    ...(options.extraArgs ?? []),
  ];
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;

  const launch = (): Promise<ServiceProcess> =>
    startProcess({
      name: 'redis',
      command: 'redis-server',
      args,
      cwd: dataDir,
      readyTimeoutMs,
      ready: async (_proc, signal) => {
        await waitForPort(port, '127.0.0.1', readyTimeoutMs, { signal });
        // PING answers -LOADING while an AOF is replayed: retry until +PONG.
        const deadline = Date.now() + readyTimeoutMs;
        for (;;) {
          try {
            await redisPing(port);
            return;
          } catch (error) {
            if (Date.now() > deadline || signal.aborted) throw error;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      },
    });

  let current = await launch();
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dataDir,
    get process() {
      return current;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await current.stop();
      if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
    async kill9() {
      await current.kill9();
    },
    async restart() {
      if (stopped) throw new Error('RedisServer.restart() after stop()');
      await current.stop();
      current = await launch();
    },
  };
}
