import { xml, type Element } from '@xmpp/xml';
import { bareJid, jidResource } from '../protocol/jid';
import type { RoomOccupant } from './muc-roster';

/**
 * Listing a room's occupants without their presence. A Heartbeat room for thousands of agents
 * broadcasts occupants' presence to nobody (Prosody's `muc_room_default_presence_broadcast`,
 * ejabberd's `presence_broadcast: [moderator]`): neither server sends a participant's join to
 * moderators either, only to the participant itself. What both answer instead:
 * - a moderator's muc#admin query for the occupants with a role (XEP-0045 8.5, the voice
 *   list): every occupant's nick, role and real JID, on Prosody 0.12 and ejabberd;
 * - disco#items on the room (XEP-0045 6.5): every occupant's room JID on ejabberd (room
 *   option `public_list`, on by default), nothing on Prosody.
 */
export const MUC_ADMIN_NS = 'http://jabber.org/protocol/muc#admin';
export const DISCO_ITEMS_NS = 'http://jabber.org/protocol/disco#items';

/** The roles whose occupants are asked for; moderators' presence is broadcast anyway. */
export const LISTED_ROLES = ['participant', 'visitor', 'moderator'] as const;

/** Peer-supplied nicks longer than this are not taken (a nick is a JID resource, ≤ 1023). */
const MAX_NICK_CHARS = 1023;
/** At most this many occupants are taken from one answer (a room of 100,000 is plenty). */
export const MAX_LISTED_OCCUPANTS = 100_000;

export function roleQuery(role: string): Element {
  return xml('query', { xmlns: MUC_ADMIN_NS }, xml('item', { role }));
}

export function discoItemsQuery(): Element {
  return xml('query', { xmlns: DISCO_ITEMS_NS });
}

function usableNick(nick: string | undefined): nick is string {
  return nick !== undefined && nick !== '' && nick.length <= MAX_NICK_CHARS;
}

/** The occupants in a muc#admin result (`<item nick role jid/>`); items without a nick are skipped. */
export function occupantsFromAdminResult(result: Element, roomJid: string): RoomOccupant[] {
  const query = result.getChild('query', MUC_ADMIN_NS);
  const occupants: RoomOccupant[] = [];
  for (const item of query?.getChildren('item') ?? []) {
    if (occupants.length >= MAX_LISTED_OCCUPANTS) break;
    const nick = item.attrs.nick;
    if (!usableNick(nick)) continue;
    const occupant: RoomOccupant = {
      nick,
      roomJid: `${roomJid}/${nick}`,
      role: item.attrs.role ?? 'participant',
    };
    if (item.attrs.jid) occupant.realJid = item.attrs.jid;
    occupants.push(occupant);
  }
  return occupants;
}

/**
 * The occupants in a disco#items result of the room: items whose JID is `room/nick` of this
 * room. Role and real JID are unknown there (shown as role `unknown`).
 */
export function occupantsFromDiscoItems(result: Element, roomJid: string): RoomOccupant[] {
  const query = result.getChild('query', DISCO_ITEMS_NS);
  const room = roomJid.toLowerCase();
  const occupants: RoomOccupant[] = [];
  for (const item of query?.getChildren('item') ?? []) {
    if (occupants.length >= MAX_LISTED_OCCUPANTS) break;
    const jid = item.attrs.jid ?? '';
    if (bareJid(jid).toLowerCase() !== room) continue;
    const nick = jidResource(jid);
    if (!usableNick(nick)) continue;
    occupants.push({ nick, roomJid: `${roomJid}/${nick}`, role: 'unknown' });
  }
  return occupants;
}

/** The stanza error condition of a rejected IQ request (xmpp.js's StanzaError), if any. */
export function iqErrorCondition(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('condition' in error)) return undefined;
  const condition = (error as { condition: unknown }).condition;
  return typeof condition === 'string' ? condition : undefined;
}
