/**
 * The Heartbeat room set up for thousands of agents (issue #14): occupants' presence is
 * broadcast to nobody (Prosody `muc_room_default_presence_broadcast = { moderator = true }`,
 * ejabberd `presence_broadcast: [moderator]`), so an agent does not see the other agents, and
 * copilot-heartbeat, an owner of the room, still lists and asks every one of them: through a
 * moderator's muc#admin occupant list on both servers, through disco#items on ejabberd when it
 * is no moderator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '@manager/bin/copilot-heartbeat';
import {
  attachHeartbeatResponder,
  type HeartbeatResponder,
} from '@copilot/heartbeat/heartbeat-responder';
import { HeartbeatRoom } from '@copilot/heartbeat/heartbeat-room';
import type { CopilotSession } from '@copilot/transport';
import {
  XMPP_SERVER_KINDS,
  startSession,
  startXmppServer,
  until,
  type XmppServer,
} from '@test/harness';

const ROOM = 'pilots-lounge';
const AGENTS = ['agent0', 'agent1', 'agent2'];
const users = [
  { username: 'monitor', password: 'mon-secret' },
  { username: 'heartbeat', password: 'hb-secret' },
  { username: 'outsider', password: 'out-secret' },
  ...AGENTS.map((username) => ({ username, password: `${username}-secret` })),
];

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

describe.each(XMPP_SERVER_KINDS)('Heartbeat room with presence to moderators only, %s', (kind) => {
  let server: XmppServer;
  const sessions: CopilotSession[] = [];
  const agents: HeartbeatResponder[] = [];
  let owner: HeartbeatRoom;

  const heartbeat = async (account: string, ...argv: string[]): Promise<Captured> => {
    let stdout = '';
    let stderr = '';
    const password = users.find((user) => user.username === account)?.password ?? '';
    const code = await main(['--timeout=5', ...argv], {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      env: {
        HB_JABBER_SERVER: `127.0.0.1:${server.port}`,
        HB_JABBER_DOMAIN: server.domain,
        HB_JABBER_ID: account,
        HB_JABBER_PASSWORD: password,
        HB_CHAT_SERVER: server.mucDomain,
        HB_CHAT_ROOM: ROOM,
      },
    });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    server = await startXmppServer(kind, {
      users,
      roomPresence: 'moderators',
      // heartbeat owns the room only through this setting: monitor makes the room.
      mucAdmins: ['monitor', 'heartbeat'],
    });
    // The room is made by an owner (as the Monitor would be), then the agents join.
    const own = await startSession(
      server,
      { username: 'monitor', password: 'mon-secret', resource: 'console' },
      sessions,
    );
    owner = new HeartbeatRoom(own, { roomJid: `${ROOM}@${server.mucDomain}`, nick: 'console' });
    await owner.join();
    for (const username of AGENTS) {
      const session = await startSession(
        server,
        { username, password: `${username}-secret`, resource: username },
        sessions,
      );
      agents.push(
        attachHeartbeatResponder(session, { chatServer: server.mucDomain, chatRoom: ROOM }),
      );
    }
    // Each agent is in once it has its own presence back from the room.
    await until(
      'every agent in the room',
      () => agents.every((agent) => agent.roster.get(agent.nick) !== undefined),
      20_000,
    );
  }, 90_000);

  afterAll(async () => {
    for (const agent of agents) agent.detach();
    owner?.leave();
    await Promise.all(sessions.map((session) => session.stop()));
    await server?.stop();
  });

  it('an agent sees no other agent, only itself and the moderator', () => {
    for (const agent of agents) {
      const nicks = agent.roster.members().map((member) => member.nick);
      expect(nicks.sort()).toEqual(['console', agent.nick].sort());
      expect(agent.roster.get('console')?.role).toBe('moderator');
    }
  });

  it('the owner gets no agent presence either, but its occupant list has every agent', async () => {
    const listing = await owner.refreshMembers();
    expect(listing).toEqual({ source: 'muc#admin', listed: AGENTS.length + 1 });
    const members = owner.members();
    expect(members.map((member) => member.nick).sort()).toEqual([...AGENTS].sort());
    for (const member of members) {
      expect(member.role).toBe('participant');
      expect(member.realJid).toBe(`${member.nick}@${server.domain}/${member.nick}`);
    }
  });

  it('copilot-heartbeat list shows every agent with its real JID', async () => {
    const result = await heartbeat('heartbeat', 'list', '--json');
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.stdout) as { nick: string; role: string; realJid?: string }[];
    const nicks = listed.map((member) => member.nick);
    for (const agent of AGENTS) expect(nicks).toContain(agent);
    expect(listed.find((member) => member.nick === 'agent1')?.realJid).toBe(
      `agent1@${server.domain}/agent1`,
    );
  });

  it('copilot-heartbeat ping and systemLoad reach every agent, exit 0', async () => {
    const ping = await heartbeat('heartbeat', 'ping', '--json');
    expect(ping.stderr).toBe('');
    expect(ping.code).toBe(0);
    const parsed = JSON.parse(ping.stdout) as { replies: { nick: string; answered: boolean }[] };
    // The console (a Heartbeat client, no responder) is skipped by its presence status.
    expect(parsed.replies.map((reply) => reply.nick).sort()).toEqual([...AGENTS].sort());
    expect(parsed.replies.every((reply) => reply.answered)).toBe(true);
    const load = await heartbeat('heartbeat', 'systemLoad', 'agent2');
    expect(load.code).toBe(0);
    expect(load.stdout).toMatch(/^agent2\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
  });

  it('an agent that leaves is gone from the next listing', async () => {
    const leaving = agents.pop() as HeartbeatResponder;
    leaving.detach();
    const gone = leaving.nick;
    await until(
      `${gone} gone from the occupant list`,
      async () => {
        await owner.refreshMembers();
        return !owner.members().some((member) => member.nick === gone);
      },
      10_000,
    );
    const result = await heartbeat('heartbeat', 'ping', '--json');
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { replies: { nick: string }[] };
    expect(parsed.replies.map((reply) => reply.nick)).not.toContain(gone);
    expect(parsed.replies).toHaveLength(AGENTS.length - 1);
  });

  it(
    kind === 'ejabberd'
      ? 'an account that is no moderator lists the agents through disco#items'
      : 'an account that is no moderator sees no agent (Prosody lists none in disco#items)',
    async () => {
      const result = await heartbeat('outsider', 'list', '--json');
      expect(result.code).toBe(0);
      const nicks = (JSON.parse(result.stdout) as { nick: string }[]).map((member) => member.nick);
      if (kind === 'ejabberd') {
        for (const agent of agents) expect(nicks).toContain(agent.nick);
      } else {
        for (const agent of agents) expect(nicks).not.toContain(agent.nick);
        expect(nicks).toContain('console'); // a moderator's presence is still broadcast
      }
    },
  );
});
