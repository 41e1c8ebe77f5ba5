import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@copilot/base/logger';
import { AdminGate } from '@manager/monitor/admin-gate';
import { AttachLinkFileError, type AttachLinkView } from '@manager/monitor/attach-link-view';
import type { DashboardSnapshot } from '@manager/monitor/dashboard-state';
import {
  startMonitorHttpServer,
  type MonitorHttpServer,
} from '@manager/monitor/monitor-http-server';

const TOKEN = 'abcdefghijklmnopqrstuvwxyz0123';
const VIEW: AttachLinkView = {
  projectName: 'P',
  link: 'copilot://attach?v=1&invite=secret-invite-1',
  qr: null,
  monitorAddresses: [],
};

describe('monitor HTTP server: the attach link', () => {
  let server: MonitorHttpServer | undefined;
  let reads = 0;
  let broken = false;

  afterEach(async () => {
    await server?.close();
    server = undefined;
    reads = 0;
    broken = false;
  });

  async function start(withLink: boolean, token: string | undefined = TOKEN) {
    server = await startMonitorHttpServer(
      {
        snapshot: () => ({ generatedAt: 'now' }) as unknown as DashboardSnapshot,
        families: () => [],
        ...(withLink
          ? {
              attachLink: {
                gate: new AdminGate(token, silentLogger),
                read: () => {
                  reads += 1;
                  if (broken) throw new AttachLinkFileError('MON_ATTACH_LINK_FILE: gone');
                  return VIEW;
                },
              },
            }
          : {}),
      },
      { host: '127.0.0.1', port: 0 },
    );
    return server;
  }

  const post = (url: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${url}api/attach-link`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    });

  it('gives the link to the admin token holder only; the dashboard JSON only says it exists', async () => {
    const { url } = await start(true);
    const response = await post(url);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(VIEW);
    const dashboard = await (await fetch(`${url}api/dashboard`)).text();
    expect(JSON.parse(dashboard)).toMatchObject({ attachLink: true });
    expect(dashboard).not.toContain('secret-invite');
    expect(reads).toBe(1);
  });

  it('refuses a GET, a wrong or missing token, another origin, a form post: nothing read', async () => {
    const { url } = await start(true);
    expect((await fetch(`${url}api/attach-link`)).status).toBe(405);
    expect((await post(url, { authorization: 'Bearer wrong-token' })).status).toBe(401);
    expect((await post(url, { authorization: '' })).status).toBe(401);
    expect((await post(url, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await post(url, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(
      415,
    );
    expect(reads).toBe(0);
  });

  it('without a link: 404 and no section; a broken file: 503 with the reason', async () => {
    const none = await start(false);
    expect((await post(none.url)).status).toBe(404);
    expect(await (await fetch(`${none.url}api/dashboard`)).json()).toMatchObject({
      attachLink: false,
    });
    await none.close();
    const { url } = await start(true);
    broken = true;
    const response = await post(url);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: 'MON_ATTACH_LINK_FILE: gone' });
  });
});
