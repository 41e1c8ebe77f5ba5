import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMonitor, type Monitor } from '@manager/monitor/copilot-monitor';
import { main as heartbeatMain } from '@manager/bin/copilot-heartbeat';
import {
  attachHeartbeatResponder,
  type HeartbeatResponder,
} from '@copilot/heartbeat/heartbeat-responder';
import type { StatusProbes } from '@copilot/heartbeat/status-probes';
import type { CopilotSession } from '@copilot/transport';
import type { Command } from '@copilot/protocol';
import { startCarbon, type CarbonServer } from '@test/harness/carbon';
import { REPO_ROOT, startTestXmppServer, startSession, type XmppServer } from '@test/harness';

const ROOM = 'pilots-lounge';
const COMPONENT = 'jobmanager.generic.alpha';
const ARTIFACTS = path.join(
  process.env.COPILOT_TEST_ARTIFACTS ?? path.join(REPO_ROOT, 'test-artifacts'),
);

/** Fixed loads, so the page can be checked for exact numbers. */
function fixedProbes(load: string): StatusProbes {
  const fail = (): Promise<string> => Promise.reject(new Error('not used in this test'));
  return {
    systemLoad: () => Promise.resolve(load),
    diskUsage: fail,
    memoryUsage: fail,
    runningProcesses: fail,
  };
}

describe('Monitor dashboard in headless Chromium', () => {
  let prosody: XmppServer;
  let carbon: CarbonServer;
  let monitor: Monitor;
  let browser: Browser;
  const sessions: CopilotSession[] = [];
  const responders: HeartbeatResponder[] = [];

  const connect = (username: string, password: string, resource: string) =>
    startSession(prosody, { username, password, resource }, sessions);

  beforeAll(async () => {
    [prosody, carbon] = await Promise.all([
      startTestXmppServer({
        users: [
          { username: 'monitor', password: 'mon-secret' },
          { username: 'jmgeneric', password: 'jm-secret' },
          { username: 'agent', password: 'agent-secret' },
          { username: 'heartbeat', password: 'hb-secret' },
        ],
      }),
      startCarbon(),
    ]);
    const jm = await connect('jmgeneric', 'jm-secret', 'alpha');
    const agent = await connect('agent', 'agent-secret', 'e48b-42d9');
    responders.push(
      attachHeartbeatResponder(jm, {
        chatServer: prosody.mucDomain,
        chatRoom: ROOM,
        probes: fixedProbes('0.90 0.65 0.52'),
      }),
      attachHeartbeatResponder(agent, {
        chatServer: prosody.mucDomain,
        chatRoom: ROOM,
        probes: fixedProbes('1.51 1.23 1.13'),
      }),
    );
    monitor = await startMonitor({
      config: {
        jabber: {
          server: `127.0.0.1:${prosody.port}`,
          domain: prosody.domain,
          id: 'monitor',
          password: 'mon-secret',
        },
        carbon: { host: '127.0.0.1', port: carbon.linePort },
        sampleSeconds: 1,
        http: { host: '127.0.0.1', port: 0 },
        chat: { server: prosody.mucDomain, room: ROOM },
        pollSeconds: 1,
        carbonBufferLines: 1000,
        allowedSenders: [prosody.jid('jmgeneric')],
        maxSeries: 5000,
      },
    });
    const send = (command: Command): Promise<string> => jm.send(prosody.jid('monitor'), command);
    await Promise.all([
      send({ command: 'reportEvent', component: COMPONENT, event: 'job.succeeded' }),
      send({ command: 'reportEvent', component: COMPONENT, event: 'job.succeeded' }),
      send({ command: 'reportEvent', component: COMPONENT, event: 'job.succeeded' }),
      send({ command: 'reportEvent', component: COMPONENT, event: 'job.failed' }),
      send({ command: 'reportEventValue', component: COMPONENT, event: 'queuedJobs', value: 7 }),
      send({ command: 'reportEventValue', component: COMPONENT, event: 'runningJobs', value: 2 }),
      // Not on the allow-list: dropped, and counted on the page.
      agent.send(prosody.jid('monitor'), {
        command: 'reportEventValue',
        component: 'jobmanager.generic.evil',
        event: 'queuedJobs',
        value: -31337,
      }),
    ]);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await monitor?.stop();
    for (const responder of responders) responder.detach();
    await Promise.all(sessions.map((session) => session.stop()));
    await Promise.all([carbon?.stop(), prosody?.stop()]);
  });

  it('the JSON endpoint has the job counts and both room members with their load', async () => {
    await expect
      .poll(
        async () => {
          const data = (await (await fetch(`${monitor.http.url}api/dashboard`)).json()) as {
            agents: { nick: string; load?: number[] }[];
          };
          return data.agents
            .filter((agent) => agent.load)
            .map((agent) => `${agent.nick}:${agent.load?.join(',')}`);
        },
        { timeout: 15_000 },
      )
      .toEqual(['alpha:0.9,0.65,0.52', 'e48b-42d9:1.51,1.23,1.13']);
    const data = (await (await fetch(`${monitor.http.url}api/dashboard`)).json()) as {
      jobs: unknown;
    };
    expect(data.jobs).toEqual({ queued: 7, running: 2, succeeded: 3, failed: 1 });
  });

  it('renders the numbers, the members and the plots; screenshot in test-artifacts/dashboard.png', async () => {
    // A few samples, so the plots have lines.
    await expect
      .poll(() => monitor.snapshot().history.length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(3);
    const page = await browser.newPage({ viewport: { width: 1100, height: 560 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(monitor.http.url);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
    // A flat line has an empty bounding box, which Playwright calls hidden: wait for it to exist.
    await page.waitForSelector('#agents tr[data-nick="e48b-42d9"] polyline', {
      state: 'attached',
      timeout: 10_000,
    });
    expect(await page.textContent('#queued')).toBe('7');
    expect(await page.textContent('#running')).toBe('2');
    expect(await page.textContent('#succeeded')).toBe('3');
    expect(await page.textContent('#failed')).toBe('1');
    expect(await page.textContent('#agent-count')).toBe('2');
    expect(await page.textContent('#dropped')).toBe(
      'Dropped reports: 1 from senders not allowed · 0 bad paths · 0 bad values · 0 over the series cap',
    );
    const rows = await page.$$eval('#agents tr', (trs) =>
      trs.map((tr) =>
        Array.from(tr.querySelectorAll('td'))
          .slice(0, 4)
          .map((td) => td.textContent),
      ),
    );
    expect(rows).toEqual([
      ['alpha', '0.90', '0.65', '0.52'],
      ['e48b-42d9', '1.51', '1.23', '1.13'],
    ]);
    expect(await page.locator('#plot-queued polyline').count()).toBe(1);
    expect(await page.locator('#plot-succeeded polyline').count()).toBe(1);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = path.join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(fs.statSync(screenshot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the Monitor answers Heartbeat questions itself, so copilot-heartbeat sees everyone answer', async () => {
    let stdout = '';
    const code = await heartbeatMain(['--timeout=4', 'systemLoad'], {
      stdout: (text) => {
        stdout += text;
      },
      stderr: () => undefined,
      env: {
        HB_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
        HB_JABBER_DOMAIN: prosody.domain,
        HB_JABBER_ID: 'heartbeat',
        HB_JABBER_PASSWORD: 'hb-secret',
        HB_CHAT_SERVER: prosody.mucDomain,
        HB_CHAT_ROOM: ROOM,
      },
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^alpha\s+0\.90\s+0\.65\s+0\.52$/m);
    expect(stdout).toMatch(/^e48b-42d9\s+1\.51\s+1\.23\s+1\.13$/m);
    expect(stdout).toMatch(/^monitor-\S+\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
  });
});
