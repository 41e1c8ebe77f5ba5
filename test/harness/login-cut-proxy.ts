/**
 * A TCP proxy on loopback that breaks the first connection(s) through it at a chosen point of an
 * XMPP login, as a flaky network or a server going away does: it relays bytes untouched until a
 * chunk in one direction contains a marker (e.g. `<success`, or the n-th chunk after `<proceed`
 * once the stream is encrypted), then cuts the connection (both sides closed, or reset), or
 * holds the server's bytes back for a while before relaying them again (a slow server).
 *
 * Later connections are relayed whole, so a client that reconnects gets in.
 */
import net from 'node:net';

export type CutDirection = 'to-server' | 'to-client';

export interface CutPoint {
  /** Whose bytes are watched. */
  direction: CutDirection;
  /** Text the chunk must contain (plain XML), or undefined to count chunks only. */
  marker?: string;
  /**
   * Act on the n-th chunk in `direction` after the one with the marker (0, the default: on the
   * marker's own chunk). After STARTTLS the stream is encrypted: count records after `<proceed`.
   */
  afterChunks?: number;
  /**
   * `before`: the chunk that triggers is not relayed. `after`: relayed up to the end of the
   * marker's tag (or whole, when counting chunks), then the action.
   */
  at: 'before' | 'after';
  /**
   * `cut`: both sockets closed (FIN); `reset`: both destroyed with RST; `stall`: the server's
   * bytes are held for `stallMs`, then relayed (the connection is not broken).
   */
  action: 'cut' | 'reset' | 'stall';
  /** Wait this long after the trigger before acting (bytes keep flowing meanwhile). Default 0. */
  delayMs?: number;
  stallMs?: number;
}

export interface LoginCutProxy {
  readonly port: number;
  readonly service: string;
  /** Whether the cut point was reached (on any connection so far). */
  readonly triggered: boolean;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Holds the server's bytes on every open connection for `ms`, from now (a server slowing down). */
  stallNow(ms: number): void;
  stop(): Promise<void>;
}

/** Index just past the end of the tag that starts at `start` (the next `>`), or the end. */
function endOfTag(text: string, start: number): number {
  const close = text.indexOf('>', start);
  return close === -1 ? text.length : close + 1;
}

/**
 * Starts the proxy in front of `backendPort`; the first `cutConnections` (default 1) connections
 * are subject to `point`, later ones are relayed whole.
 */
export async function startLoginCutProxy(
  backendPort: number,
  point: CutPoint,
  options: { cutConnections?: number } = {},
): Promise<LoginCutProxy> {
  const cutConnections = options.cutConnections ?? 1;
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let triggered = false;
  const stallers = new Set<(ms: number) => void>();

  const handle = (client: net.Socket): void => {
    connections += 1;
    const armed = connections <= cutConnections;
    const server = net.connect({ host: '127.0.0.1', port: backendPort, allowHalfOpen: true });
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => socket.destroy());
      socket.once('close', () => sockets.delete(socket));
    }
    /** Watching for the marker, counting chunks after it, or done (acted or acting). */
    let state: 'watching' | 'counting' | 'done' = armed ? 'watching' : 'done';
    let remaining = point.afterChunks ?? 0;
    let cut = false;
    let stalledUntil = 0;
    const held: Buffer[] = [];

    const deliver = (direction: CutDirection, data: Buffer): void => {
      if (cut || data.length === 0) return;
      if (direction === 'to-server') {
        if (!server.destroyed) server.write(data);
        return;
      }
      if (Date.now() < stalledUntil || held.length > 0) held.push(data);
      else if (!client.destroyed) client.write(data);
    };
    // Half-closes are relayed as such (a client's FIN does not end the server's bytes), and the
    // server's FIN comes after its bytes, also when they are held back.
    let serverEnded = false;
    client.once('end', () => server.end());
    server.once('end', () => {
      serverEnded = true;
      if (held.length === 0 && Date.now() >= stalledUntil) client.end();
    });
    client.once('close', () => server.destroy());
    server.once('close', () => {
      if (held.length === 0 && Date.now() >= stalledUntil) client.destroy();
    });
    const stall = (stallMs: number): void => {
      stalledUntil = Date.now() + stallMs;
      setTimeout(() => {
        stalledUntil = 0;
        for (const data of held.splice(0)) if (!client.destroyed) client.write(data);
        if (serverEnded) client.end();
      }, stallMs);
    };
    stallers.add(stall);
    client.once('close', () => stallers.delete(stall));
    const act = (): void => {
      if (point.action === 'stall') {
        stall(point.stallMs ?? 2_500);
        return;
      }
      cut = true;
      for (const socket of [client, server]) {
        if (point.action === 'reset') socket.resetAndDestroy();
        else socket.end();
      }
    };
    /** Relays `data` up to `split`, then acts (now, or after delayMs with the rest relayed). */
    const trigger = (direction: CutDirection, data: Buffer, split: number): void => {
      state = 'done';
      triggered = true;
      deliver(direction, data.subarray(0, split));
      if (point.delayMs) setTimeout(act, point.delayMs);
      else act();
      // Cut at once: the rest is not relayed. Later, or stalled: relayed (or held) as usual.
      deliver(direction, data.subarray(split));
    };

    const relay = (direction: CutDirection, data: Buffer): void => {
      if (state === 'done' || direction !== point.direction) {
        deliver(direction, data);
        return;
      }
      if (state === 'counting') {
        if (remaining > 0) {
          remaining -= 1;
          deliver(direction, data);
          return;
        }
        trigger(direction, data, point.at === 'before' ? 0 : data.length);
        return;
      }
      const text = data.toString('latin1');
      const markerAt = point.marker === undefined ? 0 : text.indexOf(point.marker);
      if (markerAt === -1) {
        deliver(direction, data);
        return;
      }
      if (remaining > 0) {
        state = 'counting';
        remaining -= 1;
        deliver(direction, data);
        return;
      }
      const split =
        point.at === 'before'
          ? markerAt
          : point.marker === undefined
            ? data.length
            : endOfTag(text, markerAt);
      trigger(direction, data, split);
    };

    client.on('data', (data: Buffer) => relay('to-server', data));
    server.on('data', (data: Buffer) => relay('to-client', data));
  };

  const listener = net.createServer({ allowHalfOpen: true }, handle);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no port');
  const port = address.port;
  return {
    port,
    service: `xmpp://127.0.0.1:${port}`,
    get triggered() {
      return triggered;
    },
    get connections() {
      return connections;
    },
    stallNow(ms) {
      for (const stall of stallers) stall(ms);
    },
    async stop() {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
