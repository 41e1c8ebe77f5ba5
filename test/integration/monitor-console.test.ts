// The Monitor's live fleet console (issue #17) on a real Prosody MUC with real agents
// (createAgent) and a real Job Manager: the console lists the room's members with their state,
// ask-now refreshes a status, an authenticated drain from the console reaches the agent (its
// agentState and its own status say drained), a request without the admin token or from another
// origin changes nothing and is logged, the batch progress arrives from the manager, and the
// page works in headless Chromium (screenshots in test-artifacts/).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@copilot/core/agent';
import type { Command } from '@copilot/protocol';
import type { CopilotSession } from '@copilot/transport';
import { silentLogger, type Logger } from '@copilot/base/logger';
import {
  attachHeartbeatResponder,
  type HeartbeatResponder,
} from '@copilot/heartbeat/heartbeat-responder';
import type { StatusProbes } from '@copilot/heartbeat/status-probes';
import { startMonitor, type Monitor } from '@manager/monitor/copilot-monitor';
import type { DashboardSnapshot } from '@manager/monitor/dashboard-state';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { configFromValues } from '@manager/job-manager/manager-config';
import { ConfigValues } from '@copilot/protocol';
import {
  REPO_ROOT,
  ensureDocker,
  freePort,
  startTestXmppServer,
  startSession,
  until,
  type XmppServer,
} from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const PASSWORD = 'pw-console';
const ROOM = 'pilots-lounge';
const TOKEN = 'console-admin-token-0123456789abcdef';
const ARTIFACTS = process.env.COPILOT_TEST_ARTIFACTS ?? path.join(REPO_ROOT, 'test-artifacts');
/** Peer-supplied markup: it must show as text, never run. */
const HOSTILE_STATUS = '<img src=x onerror="window.__xss=1">';

let prosody: XmppServer;
let root: string;
let monitor: Monitor;
let manager: RunningJobManager;
let browser: Browser | undefined;
const agents: Agent[] = [];
const sessions: CopilotSession[] = [];
const responders: HeartbeatResponder[] = [];
const probeOrders: { from: string; command: Command }[] = [];
const malloryOrders: Command[] = [];
const logLines: string[] = [];
let probeLoad = 0.5;

function recordingLogger(): Logger {
  const logger: Logger = {
    ...silentLogger,
    warn: (message, fields) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`),
    info: (message, fields) => logLines.push(`${message} ${JSON.stringify(fields ?? {})}`),
    child: () => logger,
  };
  return logger;
}

/** The test account's answers: a load that changes between asks, and a hostile disk status. */
const probeStatus: StatusProbes = {
  systemLoad: () => Promise.resolve(`${probeLoad.toFixed(2)} 0.10 0.10`),
  diskUsage: () => Promise.resolve(HOSTILE_STATUS),
  memoryUsage: () =>
    Promise.resolve('usedMB=1 totalMB=2 usedPercent=50.0 swapUsedMB=0 swapTotalMB=0'),
  runningProcesses: () => Promise.resolve('all=1 running=1 blocked=0 sleeping=0'),
};

async function dashboard(): Promise<DashboardSnapshot> {
  return (await (await fetch(`${monitor.http.url}api/dashboard`)).json()) as DashboardSnapshot;
}

async function member(nick: string) {
  return (await dashboard()).console?.members.find((m) => m.nick === nick);
}

function post(
  action: 'ask' | 'order',
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${monitor.http.url}api/console/${action}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['monitor', 'console', 'jm', 'agent1', 'agent2', 'probe', 'mallory'].map((username) => ({
      username,
      password: username === 'jm' ? MANAGER_PASSWORD : PASSWORD,
    })),
    // The console sends orders to the members' real JIDs: the room shows them.
    roomJidsPublic: true,
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'monitor-console-'));
  const tokenFile = path.join(root, 'admin-token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

  for (const name of ['agent1', 'agent2']) {
    const agent = createAgent({
      settings: localAgentSettings(prosody, name, PASSWORD, {
        // No manager answers at this address: the agents stay idle, asking for nothing to run.
        jobManagerAddress: prosody.jid('nobody'),
        heartbeatChatServer: prosody.mucDomain,
        heartbeatChatRoom: ROOM,
        adminAccounts: prosody.jid('console'),
      }),
      dataDir: path.join(root, name),
      resource: `${name}-host`,
      fetchBackoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 },
    });
    agents.push(agent);
    await agent.start();
  }
  const probe = await startSession(
    prosody,
    { username: 'probe', password: PASSWORD, resource: 'probe-1' },
    sessions,
  );
  probe.onCommand((message) => {
    if (message.command.command === 'adminOrder')
      probeOrders.push({ from: message.from, command: message.command });
  });
  responders.push(
    attachHeartbeatResponder(probe, {
      chatServer: prosody.mucDomain,
      chatRoom: ROOM,
      probes: probeStatus,
    }),
  );

  // A room member who took the nickname "all": its row's buttons must order it alone.
  const mallory = await startSession(
    prosody,
    { username: 'mallory', password: PASSWORD, resource: 'all' },
    sessions,
  );
  mallory.onCommand((message) => {
    if (message.command.command === 'adminOrder') malloryOrders.push(message.command);
  });
  responders.push(
    attachHeartbeatResponder(mallory, {
      chatServer: prosody.mucDomain,
      chatRoom: ROOM,
      probes: probeStatus,
    }),
  );

  const stateDir = path.join(root, 'jm');
  manager = await startJobManager(
    configFromValues(
      ConfigValues.from({
        env: localManagerValues(prosody, stateDir, { MON_JABBER_ADDRESS: prosody.jid('monitor') }),
      }),
    ),
    { queueReportIntervalMs: 300 },
  );
  monitor = await startMonitor({
    config: {
      jabber: {
        server: `127.0.0.1:${prosody.port}`,
        domain: prosody.domain,
        id: 'monitor',
        password: PASSWORD,
      },
      carbon: { host: '127.0.0.1', port: await freePort() },
      sampleSeconds: 1,
      http: { host: '127.0.0.1', port: 0 },
      chat: { server: prosody.mucDomain, room: ROOM },
      // Only the start-up round and ask-now ask everything: ask-now is what changes a status.
      pollSeconds: 3600,
      carbonBufferLines: 1000,
      allowedSenders: [prosody.jid('jm')],
      maxSeries: 5000,
      console: {
        jabber: {
          server: `127.0.0.1:${prosody.port}`,
          domain: prosody.domain,
          id: 'console',
          password: PASSWORD,
        },
        adminTokenFile: tokenFile,
      },
    },
    logger: recordingLogger(),
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await monitor?.stop();
  await manager?.stop();
  for (const responder of responders) responder.detach();
  await Promise.all(sessions.map((session) => session.stop()));
  await Promise.all(agents.map((agent) => agent.stop()));
  await prosody?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('the fleet console on a real XMPP server with real agents', () => {
  it('lists the agents (idle, with their real JIDs), the manager, the test account and the Monitor', async () => {
    const members = await until(
      'every member with its state',
      async () => {
        const data = await dashboard();
        const list = data.console?.members ?? [];
        const agentsIdle = ['agent1-host', 'agent2-host'].every((nick) =>
          /^idle 0\/\d+$/.test(
            list.find((m) => m.nick === nick)?.statuses.agentState?.status ?? '',
          ),
        );
        return agentsIdle && list.some((m) => m.nick === 'probe-1') ? list : undefined;
      },
      30_000,
    );
    const byNick = new Map(members.map((m) => [m.nick, m]));
    expect(byNick.get('agent1-host')).toMatchObject({
      kind: 'agent',
      realJid: `${prosody.jid('agent1')}/agent1-host`,
    });
    expect(byNick.get('probe-1')?.statuses.systemLoad?.status).toBe('0.50 0.10 0.10');
    expect(byNick.get('probe-1')?.kind).toBe('component');
    expect(members.find((m) => m.kind === 'monitor')?.nick).toMatch(/^monitor-/);
    expect((await dashboard()).console?.jid).toMatch(new RegExp(`^${prosody.jid('console')}/`));
  });

  it("ask now refreshes one member's status", async () => {
    probeLoad = 2.25;
    const response = await post('ask', { target: 'probe-1', component: 'systemLoad' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ asked: 1, answered: 1 });
    expect((await member('probe-1'))?.statuses.systemLoad?.status).toBe('2.25 0.10 0.10');
  });

  it('a request without the token, with a wrong one, from another origin or by GET changes nothing and is logged', async () => {
    const drain = { target: 'agent1-host', order: 'drain' };
    const refused = [
      await post('order', drain, { authorization: '' }),
      await post('order', drain, { authorization: 'Bearer not-the-token-at-all-000000' }),
      await post('order', drain, { origin: 'http://evil.example' }),
      await fetch(`${monitor.http.url}api/console/order?target=agent1-host&order=drain`),
    ];
    expect(refused.map((r) => r.status)).toEqual([401, 401, 403, 405]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const status = await agents[0]?.commands.getStatus();
    expect(status?.admin ?? null).toBe(null);
    expect((await member('agent1-host'))?.lastOrder).toBeUndefined();
    const data = await dashboard();
    expect(data.console?.refused).toMatchObject({ token: 2, origin: 1, method: 1 });
    // Logged once a minute per reason and address: the two token refusals share a line.
    const logged = logLines.filter((line) => line.startsWith('dashboard action refused'));
    expect(logged.map((line) => /"reason":"(\w+)"/.exec(line)?.[1])).toEqual([
      'token',
      'origin',
      'method',
    ]);
  });

  it('an authenticated drain from the console reaches the agent: acknowledged, and the agent says drained', async () => {
    const response = await post('order', {
      target: 'agent1-host',
      order: 'drain',
      reason: 'kernel update',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sent: ['agent1-host'], skipped: [] });
    await until(
      'the agent holds the drain',
      async () => ((await agents[0]?.commands.getStatus())?.admin ? true : undefined),
      15_000,
    );
    expect((await agents[0]?.commands.getStatus())?.admin).toMatchObject({
      order: 'drain',
      reason: 'kernel update',
    });
    // Once acknowledged, the console asks the agent's state again by itself.
    const drained = await until(
      'the console shows it drained',
      async () => {
        const found = await member('agent1-host');
        return /^drained/.test(found?.statuses.agentState?.status ?? '') ? found : undefined;
      },
      10_000,
    );
    expect(drained.statuses.agentState?.status).toMatch(/^drained 0\/\d+: kernel update$/);
    expect(drained.lastOrder).toMatchObject({ order: 'drain', outcome: 'acknowledged' });
    // The other agent was not ordered.
    expect((await agents[1]?.commands.getStatus())?.admin ?? null).toBe(null);
  });

  it('a drain from an account that is not the admin is refused by the agent', async () => {
    const outsider = sessions[0];
    await outsider?.send(`${prosody.jid('agent2')}/agent2-host`, {
      command: 'adminOrder',
      order: 'drain',
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await agents[1]?.commands.getStatus())?.admin ?? null).toBe(null);
  });

  it('an order to a test account arrives on the wire from the console account', async () => {
    const response = await post('order', { target: 'probe-1', order: 'pause' });
    expect(await response.json()).toEqual({ sent: ['probe-1'], skipped: [] });
    await until('the adminOrder at the test account', () => probeOrders[0], 10_000);
    expect(probeOrders[0]?.command).toEqual({ command: 'adminOrder', order: 'pause' });
    expect(probeOrders[0]?.from.startsWith(`${prosody.jid('console')}/`)).toBe(true);
  });

  it('resume for all lifts the drain; it goes to the agents only', async () => {
    const response = await post('order', { target: 'all', order: 'resume' });
    const outcome = (await response.json()) as { sent: string[] };
    expect(outcome.sent.sort()).toEqual(['agent1-host', 'agent2-host']);
    await until(
      'the drain lifted',
      async () => ((await agents[0]?.commands.getStatus())?.admin ? undefined : true),
      15_000,
    );
    expect(probeOrders).toHaveLength(1);
  });

  it('batch progress arrives from the manager', async () => {
    const spec = {
      command: 'run.sh',
      arguments: '',
      environment: '',
      packages: '',
      inputFiles: 'run.sh',
      batch: 'b-console',
    };
    await manager.queue.addMany([0, 1, 2].map((n) => ({ id: `b-console-${n}`, spec })));
    await manager.queue.transition('b-console-2', { from: ['queued'] }, { state: 'cancelled' });
    const batch = await until(
      'the batch on the dashboard',
      async () => {
        const found = (await dashboard()).batches.find((b) => b.batch === 'b-console');
        return found?.counts.cancelled === 1 ? found : undefined;
      },
      15_000,
    );
    expect(batch).toMatchObject({
      component: 'jobmanager.generic.jobmanager',
      total: 3,
      counts: { queued: 2, cancelled: 1, done: 0 },
    });
  });

  it('in Chromium: the console, ask now and drain buttons, hostile text shown as text; screenshots', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(monitor.http.url);
    await page.waitForSelector('body[data-loaded="true"]');
    await page.waitForSelector('#fleet tr[data-nick="agent2-host"]');
    // Without the token a button is refused, and nothing is sent.
    await page.click('#fleet tr[data-nick="agent2-host"] button[data-action="drain"]');
    await page.waitForSelector('#action-status[data-outcome="refused"]');
    expect(await page.textContent('#action-status')).toBe('drain refused: refused (token)');
    expect((await agents[1]?.commands.getStatus())?.admin ?? null).toBe(null);

    await page.fill('#admin-token', TOKEN);
    probeLoad = 3.5;
    await page.click('#fleet tr[data-nick="probe-1"] button[data-action="ask"]');
    await page.waitForFunction(
      () =>
        document.querySelector('#fleet tr[data-nick="probe-1"] .c-systemLoad')?.textContent ===
        '3.50 0.10 0.10',
    );
    await page.click('#fleet tr[data-nick="agent2-host"] button[data-action="drain"]');
    await until(
      'agent2 drained from the page',
      async () => ((await agents[1]?.commands.getStatus())?.admin ? true : undefined),
      15_000,
    );
    await page.waitForFunction(() =>
      /^drained/.test(
        document.querySelector('#fleet tr[data-nick="agent2-host"] .c-agentState')?.textContent ??
          '',
      ),
    );
    // The row of the member named "all": its Drain orders that member, not the whole fleet.
    await page.click('#fleet tr[data-nick="all"] button[data-action="drain"]');
    await until('the order at the member named all', () => malloryOrders[0], 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await agents[0]?.commands.getStatus())?.admin ?? null).toBe(null);
    expect(await page.textContent('#fleet tr[data-nick="probe-1"] .c-diskUsage')).toBe(
      HOSTILE_STATUS,
    );
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBe(
      undefined,
    );
    expect(await page.locator('#fleet img').count()).toBe(0);
    expect(await page.textContent('#batches tr[data-batch="b-console"] td:nth-child(3)')).toBe('3');
    // No job finished in this test: no bars, and the range line says so; the queue is plotted.
    expect(await page.locator('#plot-hourly rect').count()).toBe(0);
    expect(await page.textContent('#range-hourly')).toMatch(/most 0 jobs in an hour$/);
    expect(await page.locator('#plot-queue polyline').count()).toBe(2);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'dashboard-console.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).toBeGreaterThan(20_000);
    expect(errors).toEqual([]);
    await page.close();
  });
});
