import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { CarbonClient } from '@manager/monitor/carbon-client';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

it('keeps lines in its bounded buffer, not the socket, while Carbon does not read', async () => {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.pause(); // a Carbon that stopped reading
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The server goes first: a client closing towards a Carbon that does not read waits 2 s.
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const client = new CarbonClient({
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    maxBufferedLines: 1000,
  });
  cleanups.push(() => client.close());
  await expect.poll(() => client.isConnected).toBe(true);
  const points = Array.from({ length: 1000 }, (_, index) => ({
    path: `copilot.backpressure.series${index}`,
    value: index,
    timestamp: 100,
  }));
  // 15 MB of lines, more than the kernel's socket buffers take.
  for (let round = 0; round < 300; round += 1) client.send(points);
  expect(client.bufferedLines).toBeLessThanOrEqual(1000);
  expect(client.droppedLines).toBeGreaterThan(0);
});
