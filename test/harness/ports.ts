import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Ports this process handed out recently: never hand the same one out twice in a row. */
const recentlyHandedOut = new Set<number>();
const RECENT_LIMIT = 512;

function listenOnce(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected address ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * A TCP port that was free on `host` (127.0.0.1 by default) a moment ago. The kernel picks it
 * from the ephemeral range; the same process never gets the same port twice in a row.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await listenOnce(host);
    if (!recentlyHandedOut.has(port)) {
      recentlyHandedOut.add(port);
      if (recentlyHandedOut.size > RECENT_LIMIT) {
        const oldest = recentlyHandedOut.values().next().value;
        if (oldest !== undefined) recentlyHandedOut.delete(oldest);
      }
      return port;
    }
  }
  throw new Error(`freePort: could not find a fresh free port on ${host}`);
}

/** Resolves true when a TCP connection to host:port succeeds right now. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface WaitForPortOptions {
  /** Poll interval in ms (default 50). */
  intervalMs?: number;
  /** Stop waiting early (e.g. the process that should listen has exited). */
  signal?: AbortSignal;
}

/** Waits until something accepts TCP connections on host:port; rejects after timeoutMs. */
export async function waitForPort(
  port: number,
  host = '127.0.0.1',
  timeoutMs = 15_000,
  options: WaitForPortOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const intervalMs = options.intervalMs ?? 50;
  for (;;) {
    if (options.signal?.aborted) {
      throw new Error(`waitForPort(${host}:${port}) aborted: ${String(options.signal.reason)}`);
    }
    if (await canConnect(port, host, Math.min(1_000, Math.max(50, deadline - Date.now())))) {
      return;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitForPort: nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    }
    await sleep(intervalMs);
  }
}
