import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachHeartbeatResponder,
  type HeartbeatResponder,
} from '@copilot/heartbeat/heartbeat-responder';
import { CopilotSession } from '@copilot/transport';
import { startCarbon, type CarbonServer } from '@test/harness/carbon';
import {
  REPO_ROOT,
  freePort,
  runCommand,
  startProcess,
  startTestXmppServer,
  waitForPort,
  type XmppServer,
  type ServiceProcess,
} from '@test/harness';

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const ROOM = 'pilots-lounge';

/** The example file with the values of this test's servers put in. */
function configFrom(example: string, values: Record<string, string>): string {
  let text = fs.readFileSync(path.join(REPO_ROOT, 'examples', example), 'utf8');
  for (const [name, value] of Object.entries(values)) {
    const pattern = new RegExp(`^${name} .*$`, 'm');
    expect(text, `${example} sets ${name}`).toMatch(pattern);
    text = text.replace(pattern, `${name} ${value}`);
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-conf-')), example);
  fs.writeFileSync(file, text);
  return file;
}

describe('copilot-monitor and copilot-heartbeat as commands (tsx), with the example configs', () => {
  let prosody: XmppServer;
  let carbon: CarbonServer;
  let monitor: ServiceProcess;
  let httpPort: number;
  let agent: CopilotSession;
  let responder: HeartbeatResponder;

  beforeAll(async () => {
    [prosody, carbon] = await Promise.all([
      startTestXmppServer({
        users: [
          { username: 'monitor', password: 'mon-secret' },
          { username: 'heartbeat', password: 'hb-secret' },
          { username: 'agent', password: 'agent-secret' },
        ],
      }),
      startCarbon(),
    ]);
    agent = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'agent',
      password: 'agent-secret',
      resource: 'e48b-42d9',
    });
    await agent.start();
    responder = attachHeartbeatResponder(agent, { chatServer: prosody.mucDomain, chatRoom: ROOM });
    httpPort = await freePort();
    const config = configFrom('copilot-monitor.conf', {
      MON_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
      MON_JABBER_DOMAIN: prosody.domain,
      MON_JABBER_ID: 'monitor',
      MON_JABBER_PASSWORD: 'mon-secret',
      CARBON_PORT: String(carbon.linePort),
      MON_SAMPLE_SECONDS: '1',
      MON_HTTP_PORT: String(httpPort),
      MON_CHAT_SERVER: prosody.mucDomain,
      MON_CHAT_ROOM: ROOM,
      MON_POLL_SECONDS: '1',
    });
    monitor = await startProcess({
      name: 'copilot-monitor',
      command: TSX,
      args: ['manager/bin/copilot-monitor.ts', `--config=${config}`],
      cwd: REPO_ROOT,
      ready: (_proc, signal) => waitForPort(httpPort, '127.0.0.1', 30_000, { signal }),
    });
  });

  afterAll(async () => {
    await monitor?.stop();
    responder?.detach();
    await agent?.stop();
    await Promise.all([carbon?.stop(), prosody?.stop()]);
  });

  it('copilot-monitor logs "Sent N updates to Carbon." every sample (listing 4.13)', async () => {
    await expect
      .poll(() => monitor.logTail(200), { timeout: 15_000 })
      .toMatch(/\[info\].* Sent \d+ updates to Carbon\./);
    await carbon.waitForMetrics(['copilot.monitor.updates']);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toContain('copilot_monitor_carbon_connected 1');
    await expect
      .poll(async () => await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), {
        timeout: 15_000,
      })
      .toMatch(/copilot_heartbeat_load\{nick="e48b-42d9",window="1min"\} \d/);
  });

  it('copilot-heartbeat systemLoad through tsx lists the agent and the Monitor, exit 0', async () => {
    const config = configFrom('copilot-heartbeat.conf', {
      HB_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
      HB_JABBER_DOMAIN: prosody.domain,
      HB_JABBER_ID: 'heartbeat',
      HB_JABBER_PASSWORD: 'hb-secret',
      HB_CHAT_SERVER: prosody.mucDomain,
      HB_CHAT_ROOM: ROOM,
    });
    const { stdout } = await runCommand(
      TSX,
      ['manager/bin/copilot-heartbeat.ts', `--config=${config}`, 'systemLoad'],
      {
        cwd: REPO_ROOT,
        timeoutMs: 60_000,
      },
    );
    expect(stdout).toMatch(/^Room nick +1min {6}5min {6}15min$/m);
    expect(stdout).toMatch(/^e48b-42d9\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
    expect(stdout).toMatch(/^monitor-\S+\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
    // runCommand rejects on a non-zero exit; a missing member makes it exit 1.
    await expect(
      runCommand(
        TSX,
        ['manager/bin/copilot-heartbeat.ts', `--config=${config}`, '--timeout=2', 'ping', 'nobody'],
        {
          cwd: REPO_ROOT,
          timeoutMs: 60_000,
        },
      ),
    ).rejects.toThrow(/exit 1/);
  });
});
