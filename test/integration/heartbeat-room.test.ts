import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '@manager/bin/copilot-heartbeat';
import {
  attachHeartbeatResponder,
  type HeartbeatResponder,
} from '@copilot/heartbeat/heartbeat-responder';
import { HeartbeatRoom } from '@copilot/heartbeat/heartbeat-room';
import type { CopilotSession } from '@copilot/transport';
import { startTestXmppServer, startSession, type XmppServer } from '@test/harness';

const ROOM = 'pilots-lounge';
const users = [
  { username: 'jmgeneric', password: 'jm-secret' },
  { username: 'agent', password: 'agent-secret' },
  { username: 'heartbeat', password: 'hb-secret' },
];

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

describe('Heartbeat room on a real XMPP server', () => {
  let prosody: XmppServer;
  const sessions: CopilotSession[] = [];
  let manager: HeartbeatResponder;
  let agent: HeartbeatResponder;

  const heartbeat = async (...argv: string[]): Promise<Captured> => {
    let stdout = '';
    let stderr = '';
    const code = await main(['--timeout=4', ...argv], {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      env: {
        HB_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
        HB_JABBER_DOMAIN: prosody.domain,
        HB_JABBER_ID: 'heartbeat',
        HB_JABBER_PASSWORD: 'hb-secret',
        HB_CHAT_SERVER: prosody.mucDomain,
        HB_CHAT_ROOM: ROOM,
      },
    });
    return { code, stdout, stderr };
  };

  const connect = (username: string, password: string, resource: string) =>
    startSession(prosody, { username, password, resource }, sessions);

  const waitFor = async (check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    prosody = await startTestXmppServer({ users });
    const jm = await connect('jmgeneric', 'jm-secret', 'alpha');
    const ag = await connect('agent', 'agent-secret', 'c0a8a6f2-59b1-4c1e-9d7e-2f1e5b1e9a11');
    manager = attachHeartbeatResponder(jm, { chatServer: prosody.mucDomain, chatRoom: ROOM });
    agent = attachHeartbeatResponder(ag, { chatServer: prosody.mucDomain, chatRoom: ROOM });
    await waitFor(
      () => manager.roster.members().length === 2 && agent.roster.members().length === 2,
      'both responders in the room',
    );
  });

  afterAll(async () => {
    manager?.detach();
    agent?.detach();
    await Promise.all(sessions.map((session) => session.stop()));
    await prosody?.stop();
  });

  it('uses the resource as nick, or a short id for a long server-style resource', () => {
    expect(manager.nick).toBe('alpha');
    expect(agent.nick).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}$/);
  });

  it('systemLoad: both members answer with three load averages, exit 0', async () => {
    const result = await heartbeat('systemLoad');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Room nick\s+1min\s+5min\s+15min$/);
    const rows = lines.slice(1);
    expect(rows).toHaveLength(2);
    for (const nick of [manager.nick, agent.nick]) {
      const row = rows.find((line) => line.startsWith(`${nick} `));
      expect(row, `row for ${nick} in\n${result.stdout}`).toMatch(
        /^\S+\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/,
      );
    }
  });

  it('targets by full JID, room JID and nick (listing 4.19)', async () => {
    const result = await heartbeat(
      'systemLoad',
      `jmgeneric@${prosody.domain}/alpha`,
      `${ROOM}@${prosody.mucDomain}/${agent.nick}`,
      agent.nick,
    );
    expect(result.code).toBe(0);
    const rows = result.stdout.trimEnd().split('\n').slice(1);
    expect(rows.map((row) => row.split(/\s+/)[0]).sort()).toEqual(
      [manager.nick, agent.nick].sort(),
    );
  });

  it('a target that does not exist: exit 1 and named on stderr', async () => {
    const result = await heartbeat('systemLoad', 'alpha', 'nobody-here');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^alpha\s+\d+\.\d\d/m);
    expect(result.stdout).toMatch(/^nobody-here\s+no answer \(not in the room\)/m);
    expect(result.stderr).toContain('no answer from nobody-here');
  });

  it('a full JID that is offline does not answer: exit 1', async () => {
    const result = await heartbeat('ping', `jmgeneric@${prosody.domain}/gone`);
    expect(result.code).toBe(1);
  });

  it('list shows the members from MUC presence', async () => {
    const result = await heartbeat('list');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Room nick\s+Role\s+JID\s+Status/);
    expect(result.stdout).toMatch(new RegExp(`^alpha\\s`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^${agent.nick}\\s`, 'm'));
  });

  it('ping: pong from everyone', async () => {
    const result = await heartbeat('ping', '--json');
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { replies: { nick: string; answered: boolean }[] };
    expect(parsed.replies.map((reply) => reply.nick).sort()).toEqual(
      [manager.nick, agent.nick].sort(),
    );
    expect(parsed.replies.every((reply) => reply.answered)).toBe(true);
  });

  it('diskUsage, memoryUsage and runningProcesses', async () => {
    const memory = await heartbeat('memoryUsage', 'alpha');
    expect(memory.code).toBe(0);
    expect(memory.stdout).toMatch(/^Room nick\s+usedMB\s+totalMB\s+usedPercent/);
    expect(memory.stdout).toMatch(/^alpha\s+\d+\s+\d+\s+\d+\.\d/m);
    const disk = await heartbeat('diskUsage', 'alpha');
    expect(disk.stdout).toMatch(/^alpha\s+\/\S*\s+\d+\s+\d+/m);
    const processes = await heartbeat('runningProcesses', 'alpha', '--json');
    const parsed = JSON.parse(processes.stdout) as { replies: { status: string }[] };
    expect(parsed.replies[0]?.status).toMatch(/^all=\d+ running=\d+/);
  });

  it('room private messages: chat and normal are both relayed; acks come back', async () => {
    const asker = await connect('heartbeat', 'hb-secret', 'probe');
    const room = new HeartbeatRoom(asker, {
      roomJid: `${ROOM}@${prosody.mucDomain}`,
      nick: 'probe',
    });
    await room.join();
    const pongs: (string | undefined)[] = [];
    asker.onCommand((message) => {
      if (message.command.command === 'pong') pongs.push(message.type);
    });
    const alpha = `${ROOM}@${prosody.mucDomain}/alpha`;
    // Acknowledged sends resolve only when alpha's ack came back through the room.
    await asker.send(alpha, { command: 'Heartbeat:ping' }, { type: 'chat' });
    await asker.send(alpha, { command: 'Heartbeat:ping' });
    await waitFor(() => pongs.length === 2, 'two pongs');
    // The responder answers in the type it was asked in.
    expect(pongs.sort()).toEqual(['chat', undefined].sort());
    const unknown = await room.ask(
      { kind: 'status', component: 'cpuTemperature' },
      [{ label: 'alpha', address: alpha, requested: 'alpha' }],
      4_000,
    );
    expect(unknown[0]?.answer).toEqual({
      kind: 'status',
      component: 'cpuTemperature',
      status: expect.stringMatching(
        /^error: unknown component 'cpuTemperature'/,
      ) as unknown as string,
    });
    room.leave();
  });

  it('--help and usage errors', async () => {
    const help = await heartbeat('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: copilot-heartbeat');
    const bad = await heartbeat('--frobnicate');
    expect(bad.code).toBe(2);
  });

  it('connection errors exit 2', async () => {
    let stderr = '';
    const code = await main(['--timeout=2'], {
      stdout: () => undefined,
      stderr: (text) => {
        stderr += text;
      },
      env: {
        HB_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
        HB_JABBER_DOMAIN: prosody.domain,
        HB_JABBER_ID: 'heartbeat',
        HB_JABBER_PASSWORD: 'wrong',
        HB_CHAT_SERVER: prosody.mucDomain,
        HB_CHAT_ROOM: ROOM,
      },
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/refused|not-authorized/);
  });
});
