import { describe, expect, it } from 'vitest';
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
