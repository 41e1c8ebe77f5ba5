import { xml, type Element } from '@xmpp/xml';
import type { Command, CommandMessage } from '../protocol';
import { mucJoinPresence, type CopilotSession } from '../transport';
import { bareJid, jidKey, sameJid } from '../protocol/jid';
import { MucRoster, type RoomOccupant } from './muc-roster';
import type { HeartbeatTarget } from './target-resolution';
import { errorMessage } from '../base/errors';
import {
  LISTED_ROLES,
  discoItemsQuery,
  iqErrorCondition,
  occupantsFromAdminResult,
  occupantsFromDiscoItems,
  roleQuery,
} from './room-occupants';

/** Presence status of command-line clients, so that "everyone" does not include them. */
export const HEARTBEAT_CLIENT_STATUS = 'copilot-heartbeat';

/** The question sent: a status component (`systemLoad`, …) or `ping`. */
export type HeartbeatQuestion = { kind: 'status'; component: string } | { kind: 'ping' };

export type HeartbeatAnswer =
  { kind: 'status'; component: string; status: string } | { kind: 'pong' };

export interface HeartbeatReply {
  target: HeartbeatTarget;
  /** Undefined when the target did not answer in time. */
  answer?: HeartbeatAnswer;
  /** Why there is no answer: `timeout`, or the server's error (e.g. `item-not-found`). */
  failure?: string;
  /** Milliseconds from sending to the answer. */
  elapsedMs?: number;
}

export interface HeartbeatRoomOptions {
  roomJid: string;
  nick: string;
  /** Presence status shown to the room; default HEARTBEAT_CLIENT_STATUS. */
  presenceStatus?: string;
  /**
   * Ask the room for its occupants once joined (and on refreshMembers()), for rooms that do not
   * broadcast occupants' presence; default true. See room-occupants.ts.
   */
  listOccupants?: boolean;
}

/** Where the last refreshMembers() found the occupants that presence does not show. */
export interface RoomListing {
  /** `muc#admin`: we are a moderator; `disco#items`: the room lists occupants to anyone. */
  source: 'muc#admin' | 'disco#items' | 'none';
  /** Occupants in that answer. */
  listed: number;
  /** Why neither query answered. */
  failure?: string;
}

function questionCommand(question: HeartbeatQuestion): Command {
  return question.kind === 'ping'
    ? { command: 'Heartbeat:ping' }
    : { command: 'Heartbeat:getStatus', component: question.component };
}

function answerOf(question: HeartbeatQuestion, command: Command): HeartbeatAnswer | undefined {
  if (question.kind === 'ping') return command.command === 'pong' ? { kind: 'pong' } : undefined;
  if (command.command !== 'haveStatus' || command.component !== question.component)
    return undefined;
  return { kind: 'status', component: command.component, status: command.status };
}

interface Waiter {
  question: HeartbeatQuestion;
  /** Targets not answered yet, by jidKey() of their address, so an answer is found at once. */
  pending: Map<string, { target: HeartbeatTarget; sentAt: number }>;
  settle: (address: string, reply: Omit<HeartbeatReply, 'target'>) => void;
}

/**
 * The asking side of the Heartbeat service: joins the room as an observer, knows its members
 * from MUC presence, and sends getStatus/ping to targets, collecting the answers until all
 * have answered or the timeout passes. Used by copilot-heartbeat and by the Monitor.
 */
export class HeartbeatRoom {
  readonly roster: MucRoster;
  private readonly waiters = new Set<Waiter>();
  private joined = false;
  /** The session that our room presence was last sent on is still online. */
  private presenceSent = false;
  private joinListeners: ((error?: Error) => void)[] = [];
  private active = true;
  private readonly presenceStanza: Element;
  private readonly stopCommands: () => void;
  private listing: Promise<RoomListing> | undefined;
  /** The answer of the latest refreshMembers(). */
  lastListing: RoomListing | undefined;

  constructor(
    private readonly session: CopilotSession,
    private readonly options: HeartbeatRoomOptions,
  ) {
    this.roster = new MucRoster(options.roomJid);
    this.presenceStanza = mucJoinPresence(
      options.roomJid,
      options.nick,
      options.presenceStatus ?? HEARTBEAT_CLIENT_STATUS,
    );
    session.events.on('presence', this.onPresence);
    session.events.on('online', this.onOnline);
    session.events.on('bounce', this.onBounce);
    this.stopCommands = session.onCommand((message) => this.onCommand(message));
  }

  get nick(): string {
    return this.options.nick;
  }

  get roomJid(): string {
    return this.options.roomJid;
  }

  get isJoined(): boolean {
    return this.joined;
  }

  /** Everyone in the room but us. */
  members(): RoomOccupant[] {
    return this.roster.members().filter((member) => member.nick !== this.options.nick);
  }

  /**
   * Enters the room; resolves once the room has sent us every occupant and then our own
   * presence (so members() is complete), rejects on a room error or after timeoutMs.
   */
  join(timeoutMs = 10_000): Promise<void> {
    if (this.joined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        finish(new Error(`no answer from the room ${this.options.roomJid} within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.joinListeners = this.joinListeners.filter((listener) => listener !== finish);
        if (error) reject(error);
        else resolve();
      };
      this.joinListeners.push(finish);
      // Already sent when the session came online after this object was made: wait for it.
      if (!this.presenceSent || !this.session.isOnline) this.enter();
    });
  }

  leave(): void {
    if (!this.active) return;
    this.active = false;
    this.session.events.off('presence', this.onPresence);
    this.session.events.off('online', this.onOnline);
    this.session.events.off('bounce', this.onBounce);
    this.stopCommands();
    this.session.sendStanza(
      xml('presence', { to: `${this.options.roomJid}/${this.options.nick}`, type: 'unavailable' }),
    );
    this.joined = false;
    for (const waiter of this.waiters) {
      for (const key of [...waiter.pending.keys()]) waiter.settle(key, { failure: 'left' });
    }
  }

  /** Sends the question to every target and resolves with one reply per target, in order. */
  ask(
    question: HeartbeatQuestion,
    targets: readonly HeartbeatTarget[],
    timeoutMs: number,
  ): Promise<HeartbeatReply[]> {
    const replies = new Map<string, HeartbeatReply>();
    return new Promise<HeartbeatReply[]>((resolve) => {
      const waiter: Waiter = {
        question,
        pending: new Map(),
        settle: (address, reply) => {
          const key = jidKey(address);
          const entry = waiter.pending.get(key);
          if (!entry) return;
          waiter.pending.delete(key);
          replies.set(key, { target: entry.target, ...reply });
          if (waiter.pending.size === 0) done();
        },
      };
      const timer = setTimeout(() => {
        for (const key of [...waiter.pending.keys()]) waiter.settle(key, { failure: 'timeout' });
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(
          targets.map(
            (target) => replies.get(jidKey(target.address)) ?? { target, failure: 'timeout' },
          ),
        );
      };
      if (targets.length === 0) {
        done();
        return;
      }
      this.waiters.add(waiter);
      const command = questionCommand(question);
      for (const target of targets) {
        const key = jidKey(target.address);
        if (waiter.pending.has(key)) continue;
        const viaRoom = sameJid(bareJid(target.address), this.options.roomJid);
        waiter.pending.set(key, { target, sentAt: Date.now() });
        this.session
          .send(target.address, command, { noack: true, type: viaRoom ? 'chat' : undefined })
          .catch((error: unknown) => {
            waiter.settle(target.address, {
              failure: errorMessage(error),
            });
          });
      }
    });
  }

  /**
   * Asks the room for its occupants (muc#admin as a moderator, else disco#items) and keeps them
   * in the roster beside those known from presence. Concurrent calls share one query.
   */
  refreshMembers(timeoutMs = 10_000): Promise<RoomListing> {
    if (this.options.listOccupants === false || !this.joined) {
      return Promise.resolve({ source: 'none', listed: 0, failure: 'not asked' });
    }
    this.listing ??= this.queryOccupants(timeoutMs).finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  private async queryOccupants(timeoutMs: number): Promise<RoomListing> {
    const roomJid = this.options.roomJid;
    let failure: string;
    try {
      const results = await Promise.all(
        LISTED_ROLES.map((role) =>
          this.session.iqRequest(roomJid, 'get', roleQuery(role), timeoutMs),
        ),
      );
      const occupants = results.flatMap((result) => occupantsFromAdminResult(result, roomJid));
      this.roster.setListed(occupants);
      this.lastListing = { source: 'muc#admin', listed: occupants.length };
      return this.lastListing;
    } catch (error) {
      failure = `muc#admin: ${iqErrorCondition(error) ?? errorMessage(error)}`;
    }
    try {
      const result = await this.session.iqRequest(roomJid, 'get', discoItemsQuery(), timeoutMs);
      const occupants = occupantsFromDiscoItems(result, roomJid);
      this.roster.setListed(occupants);
      this.lastListing = { source: 'disco#items', listed: occupants.length };
    } catch (error) {
      failure += `; disco#items: ${iqErrorCondition(error) ?? errorMessage(error)}`;
      this.lastListing = { source: 'none', listed: 0, failure };
    }
    return this.lastListing;
  }

  private async joinedThenListed(): Promise<void> {
    this.joined = true;
    if (this.options.listOccupants !== false) await this.refreshMembers();
    for (const listener of [...this.joinListeners]) listener();
  }

  private readonly onPresence = (stanza: Element): void => {
    const outcome = this.roster.apply(stanza);
    if (
      outcome.kind === 'self-joined' ||
      (outcome.kind === 'joined' && outcome.occupant.nick === this.options.nick)
    ) {
      if (!this.joined) void this.joinedThenListed();
    } else if (outcome.kind === 'error' && outcome.nick === this.options.nick) {
      const error = new Error(
        `cannot join ${this.options.roomJid} as ${this.options.nick}: ${outcome.condition}`,
      );
      for (const listener of [...this.joinListeners]) listener(error);
    } else if (outcome.kind === 'left' || outcome.kind === 'self-left') {
      // A target that leaves will not answer; do not wait for the timeout.
      for (const waiter of this.waiters)
        waiter.settle(outcome.occupant.roomJid, { failure: 'left the room' });
    }
  };

  private readonly onOnline = (): void => {
    if (!this.active) return;
    // After a reconnect the room has forgotten us: enter again.
    this.joined = false;
    this.roster.clear();
    this.enter();
  };

  private enter(): void {
    this.presenceSent = this.session.isOnline;
    this.session.sendStanza(this.presenceStanza);
  }

  private readonly onBounce = (message: { from: string; reason: string }): void => {
    for (const waiter of this.waiters) waiter.settle(message.from, { failure: message.reason });
  };

  private onCommand(message: CommandMessage): void {
    for (const waiter of this.waiters) {
      const entry = waiter.pending.get(jidKey(message.from));
      if (!entry) continue;
      const answer = answerOf(waiter.question, message.command);
      if (!answer) continue;
      waiter.settle(message.from, { answer, elapsedMs: Date.now() - entry.sentAt });
    }
  }
}
