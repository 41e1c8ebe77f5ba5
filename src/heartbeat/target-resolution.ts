import { bareJid, jidResource } from '../protocol/jid';
import type { RoomOccupant } from './muc-roster';

/** Where one Heartbeat command goes, and the name its answer is shown under. */
export interface HeartbeatTarget {
  /** Room nickname when known, else the JID's resource (listing 4.19 shows `alpha`). */
  label: string;
  /** The address the command is sent to and the answer is expected from. */
  address: string;
  /** What the user typed, or '' for a room member picked because no JIDs were given. */
  requested: string;
}

export interface TargetResolution {
  targets: HeartbeatTarget[];
  /** Requested names that match nobody: no message is sent, they count as not answered. */
  unknown: string[];
}

export interface ResolveTargetsInput {
  /** The user's arguments: full JIDs, room JIDs or bare nicknames. Empty: the whole room. */
  requested: readonly string[];
  roomJid: string;
  /** Current room members. */
  members: readonly RoomOccupant[];
  /** Our own nickname: never a target when the whole room is addressed. */
  selfNick?: string;
  /** Members with this presence status (other command-line clients) are skipped for "all". */
  skipStatus?: string;
}

function occupantTarget(occupant: RoomOccupant, requested: string): HeartbeatTarget {
  return { label: occupant.nick, address: occupant.roomJid, requested };
}

/**
 * Turns the user's target list into addresses (section 4.5.4): a full JID is used as it is
 * (or as the member's room JID when the room shows us real JIDs), a room JID must name a current
 * member, a bare nickname is looked up in the room, and no targets means every other member.
 */
export function resolveTargets(input: ResolveTargetsInput): TargetResolution {
  const room = input.roomJid.toLowerCase();
  if (input.requested.length === 0) {
    const targets = input.members
      .filter((member) => member.nick !== input.selfNick)
      .filter((member) => input.skipStatus === undefined || member.status !== input.skipStatus)
      .map((member) => occupantTarget(member, ''));
    return { targets, unknown: [] };
  }
  const byNick = new Map(input.members.map((member) => [member.nick, member]));
  const targets: HeartbeatTarget[] = [];
  const unknown: string[] = [];
  const seen = new Set<string>();
  const add = (target: HeartbeatTarget): void => {
    if (seen.has(target.address)) return;
    seen.add(target.address);
    targets.push(target);
  };
  for (const raw of input.requested) {
    const name = raw.trim();
    if (name === '') continue;
    if (name.includes('@')) {
      const resource = jidResource(name);
      if (bareJid(name).toLowerCase() === room) {
        const member = byNick.get(resource);
        if (member) add(occupantTarget(member, name));
        else unknown.push(name);
        continue;
      }
      const member = input.members.find((candidate) => candidate.realJid === name);
      if (member) add(occupantTarget(member, name));
      else if (resource !== '') add({ label: resource, address: name, requested: name });
      else unknown.push(name);
      continue;
    }
    const member = byNick.get(name);
    if (member) add(occupantTarget(member, name));
    else unknown.push(name);
  }
  return { targets, unknown };
}
