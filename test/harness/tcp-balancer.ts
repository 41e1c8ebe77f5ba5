/**
 * A TCP load balancer on loopback, as HAProxy or a cloud balancer stands in front of the nodes
 * of an XMPP cluster: each new client connection goes to the next backend in turn, and to the
 * one after it when a backend refuses the connection (a node that is down). Bytes are relayed
 * untouched (STARTTLS passes through). When a backend dies, the connections it held are closed
 * and the clients' reconnects land on the nodes still up.
 */
import net from 'node:net';

export interface TcpBackend {
  readonly host: string;
  readonly port: number;
}

export interface TcpBalancer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Open client connections per backend port (only those relayed right now). */
  connectionsByBackend(): Map<number, number>;
  /** Closes the listener and every relayed connection. */
  stop(): Promise<void>;
}

function connectTo(backend: TcpBackend, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: backend.host, port: backend.port });
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`connect to ${backend.port} timed out`)));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeListener('error', fail);
      resolve(socket);
    });
  });
}

/** Starts a round-robin balancer on a free 127.0.0.1 port (or `port`). */
export async function startTcpBalancer(
  backends: readonly TcpBackend[],
  options: { port?: number; connectTimeoutMs?: number } = {},
): Promise<TcpBalancer> {
  if (backends.length === 0) throw new Error('startTcpBalancer: no backends');
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  const open = new Map<number, Set<net.Socket>>();
  const sockets = new Set<net.Socket>();
  let next = 0;

  const relay = async (client: net.Socket): Promise<void> => {
    sockets.add(client);
    client.on('error', () => client.destroy());
    client.once('close', () => sockets.delete(client));
    client.pause();
    for (let tried = 0; tried < backends.length && !client.destroyed; tried += 1) {
      const backend = backends[next % backends.length] as TcpBackend;
      next += 1;
      let upstream: net.Socket;
      try {
        upstream = await connectTo(backend, connectTimeoutMs);
      } catch {
        continue;
      }
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      const held = open.get(backend.port) ?? new Set<net.Socket>();
      open.set(backend.port, held);
      held.add(upstream);
      sockets.add(upstream);
      upstream.on('error', () => upstream.destroy());
      upstream.once('close', () => {
        held.delete(upstream);
        sockets.delete(upstream);
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      return;
    }
    client.destroy();
  };

  const server = net.createServer((client) => {
    void relay(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('balancer: no port');
  return {
    host: '127.0.0.1',
    port: address.port,
    connectionsByBackend: () =>
      new Map([...open].map(([port, held]): [number, number] => [port, held.size])),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
