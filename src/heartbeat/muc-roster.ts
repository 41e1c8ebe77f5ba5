import type { Element } from '@xmpp/xml';
import { bareJid, jidResource } from '../protocol/jid';
import { errorCondition } from '../protocol/message-codec';

const MUC_USER_NS = 'http://jabber.org/protocol/muc#user';

/** One occupant of a MUC room as its presence describes it. */
export interface RoomOccupant {
  nick: string;
  /** `room@conference.domain/nick`: where private messages to this occupant go. */
  roomJid: string;
  /** The occupant's real full JID, when the room reveals it to us (non-anonymous rooms). */
  realJid?: string;
  role: string;
  /** The presence <status> text, e.g. `copilot-heartbeat` for a command-line client. */
  status?: string;
}

export type PresenceOutcome =
  | { kind: 'joined' | 'left' | 'self-joined' | 'self-left'; occupant: RoomOccupant }
  | { kind: 'error'; nick: string; condition: string }
  | { kind: 'ignored' };

/**
 * The occupants of one room, kept up to date from the presence stanzas the room sends us, plus
 * the occupants a room query listed (setListed): in a room that broadcasts occupants' presence
 * to nobody, that list is the only way to know them. An occupant known from presence wins over
 * the same nick in the list (it has the presence status).
 */
export class MucRoster {
  private readonly occupants = new Map<string, RoomOccupant>();
  private listed = new Map<string, RoomOccupant>();

  constructor(readonly roomJid: string) {}

  /** Everyone in the room, ourselves included, in nickname order. */
  members(): RoomOccupant[] {
    const all = new Map(this.listed);
    for (const [nick, occupant] of this.occupants) all.set(nick, occupant);
    return [...all.values()].sort((a, b) => a.nick.localeCompare(b.nick));
  }

  get(nick: string): RoomOccupant | undefined {
    return this.occupants.get(nick) ?? this.listed.get(nick);
  }

  /** Replaces the listed occupants with the answer of the latest room query. */
  setListed(occupants: readonly RoomOccupant[]): void {
    this.listed = new Map(occupants.map((occupant) => [occupant.nick, occupant]));
  }

  get listedCount(): number {
    return this.listed.size;
  }

  clear(): void {
    this.occupants.clear();
    this.listed.clear();
  }

  /** Applies one presence stanza; stanzas from other rooms or users are ignored. */
  apply(stanza: Element): PresenceOutcome {
    if (stanza.name !== 'presence') return { kind: 'ignored' };
    const from = stanza.attrs.from ?? '';
    if (bareJid(from).toLowerCase() !== this.roomJid.toLowerCase()) return { kind: 'ignored' };
    const nick = jidResource(from);
    if (nick === '') return { kind: 'ignored' };
    const type = stanza.attrs.type;
    if (type === 'error') {
      return { kind: 'error', nick, condition: errorCondition(stanza) ?? 'unknown' };
    }
    const x = stanza.getChild('x', MUC_USER_NS);
    const item = x?.getChild('item');
    const isSelf = x?.getChildren('status').some((status) => status.attrs.code === '110') ?? false;
    const occupant: RoomOccupant = {
      nick,
      roomJid: `${this.roomJid}/${nick}`,
      role: item?.attrs.role ?? 'participant',
    };
    if (item?.attrs.jid) occupant.realJid = item.attrs.jid;
    const statusText = stanza.getChildText('status');
    if (statusText) occupant.status = statusText;
    if (type === 'unavailable') {
      this.occupants.delete(nick);
      this.listed.delete(nick);
      return { kind: isSelf ? 'self-left' : 'left', occupant };
    }
    if (type !== undefined) return { kind: 'ignored' };
    this.occupants.set(nick, occupant);
    return { kind: isSelf ? 'self-joined' : 'joined', occupant };
  }
}
