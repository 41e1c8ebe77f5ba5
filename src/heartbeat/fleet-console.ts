import type { AdminOrderName, Command } from '../protocol';
import type { CopilotSession } from '../transport';
import { errorMessage } from '../base/errors';
import { escapeLogText, silentLogger, type Logger } from '../base/logger';
import type { HeartbeatRoom } from './heartbeat-room';
import { FleetView, type FleetComponent, type FleetMember } from './fleet-view';
import type { HeartbeatTarget } from './target-resolution';

/** `all`, or one member's room nickname. */
export type FleetTarget = 'all' | { nick: string };

export interface FleetConsoleOptions {
  /** The console's own session (its account is the one agents list as admin). */
  session: Pick<CopilotSession, 'send'> & { events: CopilotSession['events'] };
  /** The Heartbeat room, on that session. */
  room: Pick<HeartbeatRoom, 'ask' | 'members' | 'isJoined' | 'roomJid'> &
    Partial<Pick<HeartbeatRoom, 'refreshMembers'>>;
  /** Presence status of Heartbeat clients and of the Monitor, to tell members apart. */
  clientStatus: string;
  monitorStatus: string;
  /** How long a question waits for its answers. */
  askTimeoutMs: number;
  /** Components asked by poll(); ask-now asks whichever it is given. */
  pollComponents: readonly FleetComponent[];
  logger?: Logger;
  now?: () => number;
}

export interface AskOutcome {
  asked: number;
  answered: number;
}

export interface OrderOutcome {
  /** Nicknames the order went to. */
  sent: string[];
  /** Members it did not go to, and why. */
  skipped: { nick: string; why: string }[];
}

/** The console's answer to a request naming a member who is not in the room. */
export class UnknownMemberError extends Error {
  constructor(nick: string) {
    super(`no member ${escapeLogText(nick, 80)} in the room`);
    this.name = 'UnknownMemberError';
  }
}

const NO_REAL_JID =
  'the room does not show its real JID (make the room non-anonymous or the console a moderator)';

/**
 * The live fleet console: keeps a FleetView of the Heartbeat room, asks members for their status
 * (every poll, and on demand), and sends them admin orders. Questions go through the room;
 * orders go to the member's real JID, since agents take adminOrder only from the accounts in
 * their AGENT_ADMIN_JIDS and a message through the room arrives from the room's address.
 */
export class FleetConsole {
  readonly view: FleetView;
  private readonly logger: Logger;
  private readonly now: () => number;
  private polling = false;

  constructor(private readonly options: FleetConsoleOptions) {
    this.view = new FleetView({
      clientStatus: options.clientStatus,
      monitorStatus: options.monitorStatus,
    });
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    options.session.events.on('presence', this.sync);
  }

  /** Every member with its last statuses, in nickname order. */
  members(): FleetMember[] {
    this.sync();
    return this.view.list();
  }

  /** Asks the poll components of every member, unless a poll is still under way. */
  async poll(): Promise<void> {
    if (this.polling || !this.options.room.isJoined) return;
    this.polling = true;
    try {
      // A large room tells nobody of joins and leaves: ask it who is in before each poll.
      await this.options.room.refreshMembers?.();
      await this.askNow('all', this.options.pollComponents);
    } finally {
      this.polling = false;
    }
  }

  /** Asks `components` of one member or of all (but Heartbeat clients), and records the answers. */
  async askNow(target: FleetTarget, components: readonly FleetComponent[]): Promise<AskOutcome> {
    this.sync();
    const members = this.targetMembers(target, this.view.askable());
    const targets: HeartbeatTarget[] = members.map((member) => ({
      label: member.nick,
      address: `${this.options.room.roomJid}/${member.nick}`,
      requested: '',
    }));
    let answered = 0;
    await Promise.all(
      components.map(async (component) => {
        const replies = await this.options.room.ask(
          { kind: 'status', component },
          targets,
          this.options.askTimeoutMs,
        );
        answered += replies.filter((reply) => reply.answer !== undefined).length;
        this.view.recordReplies(component, replies, this.now());
      }),
    );
    return { asked: targets.length * components.length, answered };
  }

  /**
   * Sends `order` to one member or to every orderable member (see FleetView.orderable). Returns
   * at once; each member's lastOrder says `sent`, then `acknowledged` (and its agentState is
   * asked again) or `failed`.
   */
  order(target: FleetTarget, order: AdminOrderName, reason?: string): OrderOutcome {
    this.sync();
    const members = this.targetMembers(target, this.view.orderable());
    const outcome: OrderOutcome = { sent: [], skipped: [] };
    const command: Command = { command: 'adminOrder', order, ...(reason ? { reason } : {}) };
    for (const member of members) {
      const address = member.realJid;
      if (address === undefined) {
        outcome.skipped.push({ nick: member.nick, why: NO_REAL_JID });
        continue;
      }
      const atMs = this.now();
      this.view.recordOrder(member.nick, { order, atMs, outcome: 'sent' });
      outcome.sent.push(member.nick);
      this.options.session
        .send(address, command)
        .then(async () => {
          this.view.recordOrder(member.nick, { order, atMs, outcome: 'acknowledged' });
          // What the order did shows in the member's agentState: ask for it at once.
          await this.askNow({ nick: member.nick }, ['agentState']).catch(() => undefined);
        })
        .catch((error: unknown) => {
          const detail = errorMessage(error);
          this.view.recordOrder(member.nick, { order, atMs, outcome: 'failed', detail });
          this.logger.warn('admin order not acknowledged', {
            nick: escapeLogText(member.nick, 80),
            order,
            error: detail,
          });
        });
    }
    this.logger.info('admin order', {
      order,
      target: target === 'all' ? 'all' : escapeLogText(target.nick, 80),
      sent: outcome.sent.length,
      skipped: outcome.skipped.length,
    });
    return outcome;
  }

  stop(): void {
    this.options.session.events.off('presence', this.sync);
  }

  private targetMembers(target: FleetTarget, all: FleetMember[]): FleetMember[] {
    if (target === 'all') return all;
    const member = this.view.get(target.nick);
    if (!member) throw new UnknownMemberError(target.nick);
    return [member];
  }

  private readonly sync = (): void => {
    this.view.syncMembers(this.options.room.members(), this.now());
  };
}
