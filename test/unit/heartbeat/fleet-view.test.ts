import { describe, expect, it } from 'vitest';
import { FleetView, MAX_STATUS_CHARS } from '@copilot/heartbeat/fleet-view';
import type { HeartbeatReply } from '@copilot/heartbeat/heartbeat-room';
import type { RoomOccupant } from '@copilot/heartbeat/muc-roster';

const ROOM = 'pilots-lounge@conference.example.org';
const occupant = (nick: string, extra: Partial<RoomOccupant> = {}): RoomOccupant => ({
  nick,
  roomJid: `${ROOM}/${nick}`,
  role: 'participant',
  ...extra,
});
const status = (nick: string, text: string): HeartbeatReply => ({
  target: { label: nick, address: `${ROOM}/${nick}`, requested: '' },
  answer: { kind: 'status', component: 'agentState', status: text },
});
const missing = (nick: string, failure = 'timeout'): HeartbeatReply => ({
  target: { label: nick, address: `${ROOM}/${nick}`, requested: '' },
  failure,
});

function view(): FleetView {
  return new FleetView({ clientStatus: 'copilot-heartbeat', monitorStatus: 'copilot-monitor' });
}

describe('FleetView', () => {
  it('follows the room: members join with their real JID and kind, and leave', () => {
    const fleet = view();
    fleet.syncMembers(
      [
        occupant('agent-1', { realJid: 'agent@example.org/agent-1' }),
        occupant('alpha'),
        occupant('heartbeat-1', { status: 'copilot-heartbeat' }),
        occupant('monitor-x', { status: 'copilot-monitor' }),
      ],
      1000,
    );
    expect(fleet.list().map((m) => [m.nick, m.kind, m.realJid, m.joinedMs])).toEqual([
      ['agent-1', 'component', 'agent@example.org/agent-1', 1000],
      ['alpha', 'component', undefined, 1000],
      ['heartbeat-1', 'client', undefined, 1000],
      ['monitor-x', 'monitor', undefined, 1000],
    ]);
    fleet.syncMembers([occupant('alpha')], 2000);
    expect(fleet.list().map((m) => [m.nick, m.joinedMs])).toEqual([['alpha', 1000]]);
  });

  it('an agentState answer makes an agent; an error status does not; a missed answer keeps the last status', () => {
    const fleet = view();
    fleet.syncMembers([occupant('agent-1'), occupant('alpha')], 0);
    fleet.recordReplies(
      'agentState',
      [status('agent-1', 'running 1/2'), status('alpha', "error: unknown component 'agentState'")],
      5000,
    );
    expect(fleet.get('agent-1')).toMatchObject({
      kind: 'agent',
      lastSeenMs: 5000,
      statuses: { agentState: { status: 'running 1/2', atMs: 5000 } },
    });
    expect(fleet.get('alpha')?.kind).toBe('component');
    fleet.recordReplies('agentState', [missing('agent-1')], 9000);
    expect(fleet.get('agent-1')).toMatchObject({
      kind: 'agent',
      lastSeenMs: 5000,
      statuses: { agentState: { status: 'running 1/2', failure: 'timeout', atMs: 9000 } },
    });
  });

  it('cuts long peer text and ignores replies from non-members', () => {
    const fleet = view();
    fleet.syncMembers([occupant('agent-1')], 0);
    fleet.recordReplies(
      'agentState',
      [status('agent-1', 'x'.repeat(10_000)), status('ghost', 'idle')],
      1,
    );
    expect(fleet.get('agent-1')?.statuses.agentState?.status).toHaveLength(MAX_STATUS_CHARS + 1);
    expect(fleet.get('ghost')).toBeUndefined();
  });

  it('orders to all go to agents and to members not known to lack agentState, never clients or the Monitor', () => {
    const fleet = view();
    fleet.syncMembers(
      [
        occupant('agent-1'),
        occupant('fresh'),
        occupant('alpha'),
        occupant('heartbeat-1', { status: 'copilot-heartbeat' }),
        occupant('monitor-x', { status: 'copilot-monitor' }),
      ],
      0,
    );
    fleet.recordReplies(
      'agentState',
      [status('agent-1', 'idle'), status('alpha', 'error: unknown component')],
      1,
    );
    expect(fleet.orderable().map((m) => m.nick)).toEqual(['agent-1', 'fresh']);
    expect(fleet.askable().map((m) => m.nick)).toEqual(['agent-1', 'alpha', 'fresh', 'monitor-x']);
  });

  it('list() returns copies: the caller cannot change the view', () => {
    const fleet = view();
    fleet.syncMembers([occupant('agent-1')], 0);
    fleet.recordOrder('agent-1', { order: 'drain', atMs: 1, outcome: 'sent' });
    const [copy] = fleet.list();
    if (!copy?.lastOrder) throw new Error('no member');
    copy.lastOrder.outcome = 'failed';
    copy.statuses.agentState = { status: 'forged', atMs: 0 };
    expect(fleet.get('agent-1')?.lastOrder?.outcome).toBe('sent');
    expect(fleet.get('agent-1')?.statuses.agentState).toBeUndefined();
  });
});
