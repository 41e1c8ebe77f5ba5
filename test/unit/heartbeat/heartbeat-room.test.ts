import { describe, expect, it } from 'vitest';
import { xml, type Element } from '@xmpp/xml';
import { DISCO_ITEMS_NS, MUC_ADMIN_NS } from '@copilot/heartbeat/room-occupants';
import type { Command, CommandMessage } from '@copilot/protocol';
import { HeartbeatRoom } from '@copilot/heartbeat/heartbeat-room';
import { TypedEmitter } from '@copilot/base/typed-emitter';
import type { CopilotSession, SessionEvents } from '@copilot/transport';

/** The parts of a CopilotSession a HeartbeatRoom uses; `answer` plays a member replying. */
function fakeSession() {
  const handlers: ((message: CommandMessage) => void)[] = [];
  const sent: { to: string; command: Command }[] = [];
  const session = {
    events: new TypedEmitter<SessionEvents>(),
    isOnline: true,
    onCommand(handler: (message: CommandMessage) => void) {
      handlers.push(handler);
      return () => handlers.splice(handlers.indexOf(handler), 1);
    },
    send(to: string, command: Command) {
      sent.push({ to, command });
      return Promise.resolve('id');
    },
    sendStanza: () => undefined,
  };
  const answer = (from: string, command: Command): void => {
    const message: CommandMessage = {
      kind: 'command',
      from,
      to: 'me@x/r',
      id: '',
      noack: true,
      command,
    };
    for (const handler of handlers) handler(message);
  };
  return { session: session as unknown as CopilotSession, sent, answer, handlers };
}

describe('HeartbeatRoom.ask', () => {
  it('matches each answer to its target, the bare part of the JID in any case', async () => {
    const { session, sent, answer } = fakeSession();
    const room = new HeartbeatRoom(session, { roomJid: 'lounge@conf.x', nick: 'me' });
    const targets = ['lounge@conf.x/alpha', 'agent@x/beta', 'lounge@conf.x/gamma'].map(
      (address) => ({ label: address, address, requested: '' }),
    );
    const replies = room.ask({ kind: 'ping' }, targets, 5_000);
    expect(sent.map((message) => message.to)).toEqual(targets.map((target) => target.address));
    answer('Agent@X/beta', { command: 'pong' });
    answer('lounge@conf.x/Alpha', { command: 'pong' }); // resource differs: not alpha
    answer('LOUNGE@conf.x/alpha', { command: 'pong' });
    answer('lounge@conf.x/gamma', { command: 'pong' });
    const result = await replies;
    expect(result.map((reply) => [reply.target.address, reply.answer?.kind])).toEqual([
      ['lounge@conf.x/alpha', 'pong'],
      ['agent@x/beta', 'pong'],
      ['lounge@conf.x/gamma', 'pong'],
    ]);
    room.leave();
  });

  it('stops listening for commands once it has left', () => {
    const { session, handlers } = fakeSession();
    const room = new HeartbeatRoom(session, { roomJid: 'lounge@conf.x', nick: 'me' });
    expect(handlers).toHaveLength(1);
    room.leave();
    expect(handlers).toHaveLength(0);
  });
});

describe('HeartbeatRoom.refreshMembers', () => {
  const ROOM = 'lounge@conf.x';
  const selfPresence = xml(
    'presence',
    { from: `${ROOM}/me` },
    xml(
      'x',
      { xmlns: 'http://jabber.org/protocol/muc#user' },
      xml('item', { role: 'moderator', affiliation: 'owner' }),
      xml('status', { code: '110' }),
    ),
  );

  function listingSession(answer: (query: Element) => Element) {
    const { session } = fakeSession();
    const asked: string[] = [];
    Object.assign(session, {
      iqRequest: (to: string, type: string, payload: Element) => {
        asked.push(`${type} ${to} ${payload.attrs.xmlns}`);
        try {
          return Promise.resolve(answer(payload));
        } catch (error) {
          return Promise.reject(error as Error);
        }
      },
    });
    return { session, asked };
  }

  it('lists the occupants as a moderator (muc#admin) once joined; join waits for the list', async () => {
    const { session, asked } = listingSession((query) => {
      const role = query.getChild('item')?.attrs.role ?? '';
      const items =
        role === 'participant'
          ? [xml('item', { nick: 'a1', role, jid: 'a@x/1' }), xml('item', { nick: 'a2', role })]
          : [];
      return xml('iq', { type: 'result' }, xml('query', { xmlns: MUC_ADMIN_NS }, ...items));
    });
    const room = new HeartbeatRoom(session, { roomJid: ROOM, nick: 'me' });
    const joined = room.join(2_000);
    session.events.emit('presence', selfPresence);
    await joined;
    expect(asked).toHaveLength(3);
    expect(room.members().map((member) => [member.nick, member.realJid])).toEqual([
      ['a1', 'a@x/1'],
      ['a2', undefined],
    ]);
    expect(room.lastListing).toEqual({ source: 'muc#admin', listed: 2 });
    room.leave();
  });

  it('falls back to disco#items when the room refuses the occupant list', async () => {
    const { session, asked } = listingSession((query) => {
      if (query.attrs.xmlns === MUC_ADMIN_NS)
        throw Object.assign(new Error('forbidden'), { condition: 'forbidden' });
      return xml(
        'iq',
        { type: 'result' },
        xml('query', { xmlns: DISCO_ITEMS_NS }, xml('item', { jid: `${ROOM}/a9`, name: 'a9' })),
      );
    });
    const room = new HeartbeatRoom(session, { roomJid: ROOM, nick: 'me' });
    const joined = room.join(2_000);
    session.events.emit('presence', selfPresence);
    await joined;
    expect(asked.at(-1)).toBe(`get ${ROOM} ${DISCO_ITEMS_NS}`);
    expect(room.members().map((member) => member.nick)).toEqual(['a9']);
    expect(room.lastListing).toEqual({ source: 'disco#items', listed: 1 });
    room.leave();
  });

  it('asks nothing with listOccupants false', async () => {
    const { session, asked } = listingSession(() => xml('iq'));
    const room = new HeartbeatRoom(session, { roomJid: ROOM, nick: 'me', listOccupants: false });
    const joined = room.join(2_000);
    session.events.emit('presence', selfPresence);
    await joined;
    expect(await room.refreshMembers()).toEqual({
      source: 'none',
      listed: 0,
      failure: 'not asked',
    });
    expect(asked).toEqual([]);
    room.leave();
  });
});
