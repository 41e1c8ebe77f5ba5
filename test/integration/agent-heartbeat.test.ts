// The agent in the Heartbeat room (HB_CHAT_SERVER / HB_CHAT_ROOM) answers Heartbeat:ping and
// Heartbeat:getStatus, over a real Prosody MUC.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDocker, startTestXmppServer, type XmppServer } from '@test/harness';
import { createAgent, type Agent } from '@copilot/core/agent';
import type { Command } from '@copilot/protocol/commands';
import { CopilotSession } from '@copilot/transport/copilot-session';
import { localAgentSettings } from './local-settings';

const PASSWORD = 'pw-heartbeat';
let prosody: XmppServer;
let root: string;
let agent: Agent | undefined;
let probe: CopilotSession | undefined;

beforeAll(async () => {
  await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['jm', 'agent', 'hb'].map((username) => ({ username, password: PASSWORD })),
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-heartbeat-'));
});

afterAll(async () => {
  await agent?.stop();
  await probe?.stop();
  await prosody?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('agent heartbeat', () => {
  it('joins the room and answers ping with pong and getStatus with haveStatus', async () => {
    agent = createAgent({
      settings: localAgentSettings(prosody, 'agent', PASSWORD, {
        heartbeatChatServer: prosody.mucDomain,
        heartbeatChatRoom: 'pilots-lounge',
      }),
      dataDir: path.join(root, 'agent'),
      resource: 'agent-hb',
      fetchBackoff: { initialMs: 5000, maxMs: 10_000, jitter: 0 },
    });
    await agent.start();
    const room = `pilots-lounge@${prosody.mucDomain}`;
    probe = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'hb',
      password: PASSWORD,
      resource: 'cli',
    });
    const replies: Array<{ from: string; command: Command }> = [];
    probe.onCommand((message) => {
      replies.push({ from: message.from, command: message.command });
    });
    await probe.start();
    probe.joinRoom(room, 'hb-cli');
    const deadline = Date.now() + 20_000;
    const wait = async (name: string): Promise<Command> => {
      for (;;) {
        const found = replies.find((reply) => reply.command.command === name);
        if (found) return found.command;
        if (Date.now() > deadline) throw new Error(`no ${name}; got ${JSON.stringify(replies)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // The agent's occupant JID in the room is its resource.
    for (;;) {
      if ((await agent.commands.getStatus()).connection === 'online') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await probe.send(`${room}/agent-hb`, { command: 'Heartbeat:ping' }, { type: 'chat' });
    expect(await wait('pong')).toEqual({ command: 'pong' });
    await probe.send(
      `${room}/agent-hb`,
      { command: 'Heartbeat:getStatus', component: 'systemLoad' },
      { type: 'chat' },
    );
    const status = await wait('haveStatus');
    expect(status).toMatchObject({ command: 'haveStatus', component: 'systemLoad' });
    expect(status.command === 'haveStatus' && status.status).toMatch(
      /^\d+\.\d\d \d+\.\d\d \d+\.\d\d$/,
    );
  });
});
