import { describe, expect, it } from 'vitest';
import type { Command } from '@copilot/protocol';
import type { CopilotSession } from '@copilot/transport';
import { TypedEmitter } from '@copilot/base/typed-emitter';
import { FleetConsole, UnknownMemberError } from '@copilot/heartbeat/fleet-console';
import type {
  HeartbeatQuestion,
  HeartbeatReply,
  HeartbeatRoom,
} from '@copilot/heartbeat/heartbeat-room';
import type { RoomOccupant } from '@copilot/heartbeat/muc-roster';
import type { HeartbeatTarget } from '@copilot/heartbeat/target-resolution';

const ROOM = 'pilots-lounge@conference.example.org';
const occupant = (nick: string, extra: Partial<RoomOccupant> = {}): RoomOccupant => ({
  nick,
  roomJid: `${ROOM}/${nick}`,
  role: 'participant',
  ...extra,
});

/** A room whose members answer from a table; unknown components get an error status. */
class FakeRoom implements Pick<HeartbeatRoom, 'ask' | 'members' | 'isJoined' | 'roomJid'> {
  readonly roomJid = ROOM;
  readonly isJoined = true;
  readonly questions: { component: string; targets: string[] }[] = [];
  constructor(
    public occupants: RoomOccupant[],
    private readonly answers: Record<string, Record<string, string>>,
  ) {}
  members(): RoomOccupant[] {
    return this.occupants;
  }
  ask(question: HeartbeatQuestion, targets: readonly HeartbeatTarget[]): Promise<HeartbeatReply[]> {
    const component = question.kind === 'status' ? question.component : 'ping';
    this.questions.push({ component, targets: targets.map((t) => t.address) });
    return Promise.resolve(
      targets.map((target) => {
        const text = this.answers[target.label]?.[component];
        return text === undefined
          ? { target, failure: 'timeout' }
          : { target, answer: { kind: 'status', component, status: text } };
      }),
    );
  }
}

class FakeSession {
  readonly events = new TypedEmitter<{ presence: [unknown] }>();
  readonly sent: { to: string; command: Command }[] = [];
  ack: (to: string) => Promise<string> = () => Promise.resolve('id');
  send(to: string, command: Command): Promise<string> {
    this.sent.push({ to, command });
    return this.ack(to);
  }
}

function consoleWith(room: FakeRoom, session = new FakeSession()): FleetConsole {
  return new FleetConsole({
    session: session as unknown as Pick<CopilotSession, 'send' | 'events'>,
    room,
    clientStatus: 'copilot-heartbeat',
    monitorStatus: 'copilot-monitor',
    askTimeoutMs: 100,
    pollComponents: ['agentState', 'systemLoad'],
    now: () => 42,
  });
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('FleetConsole', () => {
  const occupants = [
    occupant('agent-1', { realJid: 'agent@example.org/agent-1' }),
    occupant('agent-2'),
    occupant('alpha', { realJid: 'jm@example.org/alpha' }),
    occupant('heartbeat-1', { status: 'copilot-heartbeat', realJid: 'hb@example.org/x' }),
  ];
  const answers = {
    'agent-1': { agentState: 'idle', systemLoad: '0.10 0.20 0.30' },
    'agent-2': { agentState: 'running 1/1' },
    alpha: { agentState: "error: unknown component 'agentState'", systemLoad: '1.00 1.00 1.00' },
  };

  it('poll asks the poll components of every member but Heartbeat clients, through the room', async () => {
    const room = new FakeRoom(occupants, answers);
    const fleet = consoleWith(room);
    await fleet.poll();
    expect(room.questions.map((q) => q.component)).toEqual(['agentState', 'systemLoad']);
    expect(room.questions[0]?.targets).toEqual([
      `${ROOM}/agent-1`,
      `${ROOM}/agent-2`,
      `${ROOM}/alpha`,
    ]);
    const members = fleet.members();
    expect(members.map((m) => [m.nick, m.kind, m.statuses.agentState?.status])).toEqual([
      ['agent-1', 'agent', 'idle'],
      ['agent-2', 'agent', 'running 1/1'],
      ['alpha', 'component', "error: unknown component 'agentState'"],
      ['heartbeat-1', 'client', undefined],
    ]);
  });

  it('ask now for one member asks only that member; an unknown nick is an UnknownMemberError', async () => {
    const room = new FakeRoom(occupants, answers);
    const fleet = consoleWith(room);
    expect(await fleet.askNow({ nick: 'agent-1' }, ['systemLoad'])).toEqual({
      asked: 1,
      answered: 1,
    });
    expect(room.questions).toEqual([{ component: 'systemLoad', targets: [`${ROOM}/agent-1`] }]);
    await expect(fleet.askNow({ nick: 'nobody' }, ['systemLoad'])).rejects.toBeInstanceOf(
      UnknownMemberError,
    );
  });

  it('an order goes to the real JID, never through the room; members without one are skipped', async () => {
    const room = new FakeRoom(occupants, answers);
    const session = new FakeSession();
    const fleet = consoleWith(room, session);
    await fleet.poll();
    const outcome = fleet.order('all', 'drain', 'maintenance');
    expect(outcome.sent).toEqual(['agent-1']);
    expect(outcome.skipped).toEqual([
      { nick: 'agent-2', why: expect.stringContaining('real JID') as unknown },
    ]);
    expect(session.sent).toEqual([
      {
        to: 'agent@example.org/agent-1',
        command: { command: 'adminOrder', order: 'drain', reason: 'maintenance' },
      },
    ]);
    expect(fleet.view.get('agent-1')?.lastOrder?.outcome).toBe('sent');
    await flush();
    expect(fleet.view.get('agent-1')?.lastOrder).toEqual({
      order: 'drain',
      atMs: 42,
      outcome: 'acknowledged',
    });
  });

  it('an order that is not acknowledged is marked failed with the reason', async () => {
    const room = new FakeRoom(occupants, answers);
    const session = new FakeSession();
    session.ack = () => Promise.reject(new Error('no acknowledgement after 6 attempts'));
    const fleet = consoleWith(room, session);
    expect(fleet.order({ nick: 'alpha' }, 'pause').sent).toEqual(['alpha']);
    await flush();
    expect(fleet.view.get('alpha')?.lastOrder).toMatchObject({
      order: 'pause',
      outcome: 'failed',
      detail: 'no acknowledgement after 6 attempts',
    });
    expect(session.sent[0]?.command).toEqual({ command: 'adminOrder', order: 'pause' });
  });
});
