import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@copilot/base/logger';
import { AdminGate } from '@manager/monitor/admin-gate';
import type { ConsoleAction } from '@manager/monitor/console-requests';
import type { DashboardSnapshot } from '@manager/monitor/dashboard-state';
import {
  startMonitorHttpServer,
  type MonitorHttpServer,
} from '@manager/monitor/monitor-http-server';

const TOKEN = 'abcdefghijklmnopqrstuvwxyz0123';

class NotInRoom extends Error {}

describe('monitor HTTP server: console actions', () => {
  let server: MonitorHttpServer | undefined;
  const ran: ConsoleAction[] = [];

  afterEach(async () => {
    await server?.close();
    server = undefined;
    ran.length = 0;
  });

  async function start(token: string | undefined): Promise<MonitorHttpServer> {
    server = await startMonitorHttpServer(
      {
        snapshot: () => ({ generatedAt: 'now' }) as unknown as DashboardSnapshot,
        families: () => [],
        actions: {
          gate: new AdminGate(token, silentLogger),
          run: (action) => {
            if (action.target !== 'all' && action.target.nick === 'ghost')
              return Promise.reject(new NotInRoom('no member ghost in the room'));
            ran.push(action);
            return Promise.resolve({ sent: ['agent-1'], skipped: [] });
          },
          isUnknownTarget: (error) => error instanceof NotInRoom,
        },
      },
      { host: '127.0.0.1', port: 0 },
    );
    return server;
  }

  const post = (
    url: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<Response> =>
    fetch(url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TOKEN}`,
        ...headers,
      },
    });

  it('an authenticated order runs and answers with its outcome', async () => {
    const { url } = await start(TOKEN);
    const response = await post(`${url}api/console/order`, '{"target":"all","order":"drain"}');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sent: ['agent-1'], skipped: [] });
    expect(ran).toEqual([{ kind: 'order', target: 'all', order: 'drain' }]);
  });

  it('GET on an action, a wrong token, another origin, a form post: refused, nothing runs', async () => {
    const { url } = await start(TOKEN);
    const order = `${url}api/console/order`;
    const body = '{"target":"all","order":"drain"}';
    expect((await fetch(`${order}?target=all&order=drain`)).status).toBe(405);
    expect((await post(order, body, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post(order, body, { authorization: '' })).status).toBe(401);
    expect((await post(order, body, { origin: 'http://evil.example' })).status).toBe(403);
    expect(
      (
        await post(order, 'target=all&order=drain', {
          'content-type': 'application/x-www-form-urlencoded',
        })
      ).status,
    ).toBe(415);
    expect(ran).toEqual([]);
  });

  it('a bad body is a 400, a large one a 413, an unknown member a 404; nothing runs', async () => {
    const { url } = await start(TOKEN);
    const order = `${url}api/console/order`;
    expect((await post(order, '{"target":"all","order":"reboot"}')).status).toBe(400);
    expect((await post(order, `{"target":"${'x'.repeat(10_000)}"}`)).status).toBe(413);
    expect((await post(order, '{"target":"ghost","order":"drain"}')).status).toBe(404);
    expect(ran).toEqual([]);
  });

  it('without a token file the actions are disabled', async () => {
    const { url } = await start(undefined);
    expect((await post(`${url}api/console/ask`, '{"target":"all"}')).status).toBe(403);
    expect(ran).toEqual([]);
  });

  it('the page has a CSP with its script hash and no framing; other methods stay 405', async () => {
    const { url } = await start(TOKEN);
    const page = await fetch(url);
    expect(page.headers.get('content-security-policy')).toMatch(
      /script-src 'sha256-[A-Za-z0-9+/=]+'.*frame-ancestors 'none'/,
    );
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect((await fetch(`${url}api/dashboard`, { method: 'DELETE' })).status).toBe(405);
    expect((await post(`${url}api/dashboard`, '{}')).status).toBe(405);
  });
});

describe('monitor HTTP server: DNS rebinding', () => {
  let server: MonitorHttpServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** A GET with the Host header a browser sends after a rebinding page's name now points here. */
  function get(port: number, path: string, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        { host: '127.0.0.1', port, path, method: 'GET', headers: { host } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  it('on loopback, answers only requests addressed to a loopback name', async () => {
    server = await startMonitorHttpServer(
      {
        snapshot: () => ({ generatedAt: 'now' }) as unknown as DashboardSnapshot,
        families: () => [],
      },
      { host: '127.0.0.1', port: 0 },
    );
    const { port } = server;
    // A page on rebind.attacker.example whose name now resolves to 127.0.0.1 reads the fleet.
    for (const path of ['/', '/api/dashboard', '/metrics']) {
      expect(await get(port, path, `rebind.attacker.example:${port}`)).toBe(403);
    }
    expect(await get(port, '/api/dashboard', `127.0.0.1:${port}`)).toBe(200);
    expect(await get(port, '/api/dashboard', `localhost:${port}`)).toBe(200);
    expect(await get(port, '/api/dashboard', `[::1]:${port}`)).toBe(200);
  });

  it('bound to another address, leaves the Host header alone (the operator exposed it)', async () => {
    server = await startMonitorHttpServer(
      {
        snapshot: () => ({ generatedAt: 'now' }) as unknown as DashboardSnapshot,
        families: () => [],
      },
      { host: '0.0.0.0', port: 0 },
    );
    expect(await get(server.port, '/api/dashboard', `monitor.example.org:${server.port}`)).toBe(
      200,
    );
  });
});
