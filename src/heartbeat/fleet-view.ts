import type { AdminOrderName } from '../protocol';
import type { HeartbeatReply } from './heartbeat-room';
import type { RoomOccupant } from './muc-roster';

/**
 * The status components the fleet console shows: the four of 4.5.3, plus `agentState` (ours),
 * which agents answer with their state (idle, running, draining, drained, paused …) and other
 * components answer with an `error:` status.
 */
export const FLEET_COMPONENTS = [
  'agentState',
  'systemLoad',
  'diskUsage',
  'memoryUsage',
  'runningProcesses',
] as const;
export type FleetComponent = (typeof FLEET_COMPONENTS)[number];

export function isFleetComponent(name: string): name is FleetComponent {
  return (FLEET_COMPONENTS as readonly string[]).includes(name);
}

/** Peer-supplied text is cut to this many characters before it is kept. */
export const MAX_STATUS_CHARS = 400;

/** The last answer (or the lack of one) to one component's question. */
export interface ComponentStatus {
  /** The haveStatus text, cut to MAX_STATUS_CHARS; absent when there was no answer. */
  status?: string;
  /** Why there is no answer (`timeout`, `left the room`, a server error). */
  failure?: string;
  /** When the answer (or its absence) was recorded, ms since the epoch. */
  atMs: number;
}

/** What happened to the last admin order sent to a member. */
export interface OrderRecord {
  order: AdminOrderName;
  atMs: number;
  /** `sent` until the agent's session acknowledges it (or the send fails). */
  outcome: 'sent' | 'acknowledged' | 'failed';
  detail?: string;
}

/**
 * `agent` once it answered agentState; `monitor` for the Monitor; `client` for Heartbeat
 * clients (copilot-heartbeat, other consoles); `component` for everyone else (a manager, or an
 * agent that was not asked yet or has no agentState).
 */
export type MemberKind = 'agent' | 'component' | 'monitor' | 'client';

export interface FleetMember {
  nick: string;
  /** The member's real JID, when the room shows it to us; admin orders need it. */
  realJid?: string;
  role: string;
  presenceStatus?: string;
  kind: MemberKind;
  /** Since when it is in the room (as far as we saw), ms since the epoch. */
  joinedMs: number;
  /** When it last answered any question, ms since the epoch. */
  lastSeenMs?: number;
  statuses: Partial<Record<FleetComponent, ComponentStatus>>;
  lastOrder?: OrderRecord;
}

export interface FleetViewOptions {
  /** Presence status of Heartbeat clients (copilot-heartbeat, consoles). */
  clientStatus: string;
  /** Presence status of the Monitor. */
  monitorStatus: string;
}

function cut(text: string): string {
  return text.length > MAX_STATUS_CHARS ? `${text.slice(0, MAX_STATUS_CHARS)}…` : text;
}

/**
 * The fleet as the console sees it: every member of the Heartbeat room (but ourselves), the last
 * status per component, when it was last seen and the last admin order sent to it. Members are
 * kept while they are in the room, so the view is as big as the room and no bigger.
 */
export class FleetView {
  private readonly members = new Map<string, FleetMember>();

  constructor(private readonly options: FleetViewOptions) {}

  /** Makes the view follow the room's occupants: new ones are added, gone ones dropped. */
  syncMembers(occupants: readonly RoomOccupant[], nowMs: number): void {
    const present = new Set(occupants.map((occupant) => occupant.nick));
    for (const nick of [...this.members.keys()]) if (!present.has(nick)) this.members.delete(nick);
    for (const occupant of occupants) {
      const known = this.members.get(occupant.nick);
      const member: FleetMember = known ?? {
        nick: occupant.nick,
        role: occupant.role,
        kind: 'component',
        joinedMs: nowMs,
        statuses: {},
      };
      member.role = occupant.role;
      if (occupant.realJid !== undefined) member.realJid = occupant.realJid;
      else delete member.realJid;
      if (occupant.status !== undefined) member.presenceStatus = cut(occupant.status);
      else delete member.presenceStatus;
      member.kind = this.kindOf(member);
      this.members.set(occupant.nick, member);
    }
  }

  /** Records the replies to one component's question. */
  recordReplies(
    component: FleetComponent,
    replies: readonly HeartbeatReply[],
    nowMs: number,
  ): void {
    for (const reply of replies) {
      const member = this.members.get(reply.target.label);
      if (!member) continue;
      const answer = reply.answer;
      if (answer?.kind === 'status') {
        member.statuses[component] = { status: cut(answer.status), atMs: nowMs };
        member.lastSeenMs = nowMs;
      } else {
        const previous = member.statuses[component];
        // A missed answer keeps the last status we had, marked with why this one is missing.
        member.statuses[component] = {
          ...(previous?.status !== undefined ? { status: previous.status } : {}),
          failure: cut(reply.failure ?? 'timeout'),
          atMs: nowMs,
        };
      }
      member.kind = this.kindOf(member);
    }
  }

  recordOrder(nick: string, record: OrderRecord): void {
    const member = this.members.get(nick);
    if (member) member.lastOrder = { ...record };
  }

  get(nick: string): FleetMember | undefined {
    return this.members.get(nick);
  }

  /** Copies of every member, in nickname order. */
  list(): FleetMember[] {
    return [...this.members.values()]
      .sort((a, b) => a.nick.localeCompare(b.nick))
      .map((member) => ({
        ...member,
        statuses: { ...member.statuses },
        ...(member.lastOrder ? { lastOrder: { ...member.lastOrder } } : {}),
      }));
  }

  /** Members that questions go to: everyone but Heartbeat clients. */
  askable(): FleetMember[] {
    return this.list().filter((member) => member.kind !== 'client');
  }

  /**
   * Members an order to "all" goes to: agents and members not yet known to lack agentState
   * (managers and older agents answer it with an error, and ignore adminOrder anyway), never
   * clients or the Monitor.
   */
  orderable(): FleetMember[] {
    return this.list().filter((member) => {
      if (member.kind === 'agent') return true;
      if (member.kind !== 'component') return false;
      const state = member.statuses.agentState?.status;
      return state === undefined || !state.startsWith('error:');
    });
  }

  private kindOf(member: FleetMember): MemberKind {
    if (member.presenceStatus === this.options.clientStatus) return 'client';
    if (member.presenceStatus === this.options.monitorStatus) return 'monitor';
    const state = member.statuses.agentState?.status;
    if (state !== undefined && !state.startsWith('error:')) return 'agent';
    return 'component';
  }
}
