import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CarbonClient } from '@manager/monitor/carbon-client';

/** A real TCP listener on loopback that collects what it receives. */
async function lineServer(
  port = 0,
): Promise<{ port: number; received: () => string; close: () => Promise<void> }> {
  let data = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
    });
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    received: () => data,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function unusedPort(): Promise<number> {
  const server = await lineServer();
  await server.close();
  return server.port;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('CarbonClient', () => {
  it('sends plaintext lines', async () => {
    const server = await lineServer();
    cleanups.push(server.close);
    const client = new CarbonClient({ host: '127.0.0.1', port: server.port });
    cleanups.push(() => client.close());
    client.send([
      { path: 'copilot.a', value: 1, timestamp: 100 },
      { path: 'copilot.b', value: 2.5, timestamp: 100 },
    ]);
    await expect.poll(server.received).toBe('copilot.a 1 100\ncopilot.b 2.5 100\n');
  });

  it('buffers while Carbon is down, drops the oldest beyond the bound, delivers after reconnecting', async () => {
    const port = await unusedPort();
    const client = new CarbonClient({
      host: '127.0.0.1',
      port,
      maxBufferedLines: 3,
      reconnectInitialMs: 50,
    });
    cleanups.push(() => client.close());
    client.send([1, 2, 3, 4, 5].map((value) => ({ path: 'copilot.x', value, timestamp: value })));
    expect(client.isConnected).toBe(false);
    expect(client.bufferedLines).toBe(3);
    expect(client.droppedLines).toBe(2);
    const server = await lineServer(port);
    cleanups.push(server.close);
    await expect
      .poll(server.received, { timeout: 5_000 })
      .toBe('copilot.x 3 3\ncopilot.x 4 4\ncopilot.x 5 5\n');
    expect(client.bufferedLines).toBe(0);
  });

  it('reconnects after Carbon restarts', async () => {
    const first = await lineServer();
    const client = new CarbonClient({
      host: '127.0.0.1',
      port: first.port,
      reconnectInitialMs: 50,
    });
    cleanups.push(() => client.close());
    client.send([{ path: 'copilot.a', value: 1, timestamp: 1 }]);
    await expect.poll(first.received).toBe('copilot.a 1 1\n');
    await first.close();
    await expect.poll(() => client.isConnected).toBe(false);
    client.send([{ path: 'copilot.a', value: 2, timestamp: 2 }]);
    const second = await lineServer(first.port);
    cleanups.push(second.close);
    await expect.poll(second.received, { timeout: 5_000 }).toBe('copilot.a 2 2\n');
  });
});
