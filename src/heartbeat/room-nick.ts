import { randomBytes } from 'node:crypto';
import { jidResource } from '../protocol/jid';

/** A short unique nickname in the style of listing 4.19: `e48b-42d9`. */
export function shortUniqueNick(): string {
  const hex = randomBytes(4).toString('hex');
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

/**
 * The nickname a component uses in the Heartbeat room: its XMPP resource (`alpha` for
 * `jmgeneric@xmpp.cern.ch/alpha`) when that is short and readable, else a short unique id
 * (servers assign long random resources to clients that do not choose one).
 */
export function roomNickFor(fullJid: string): string {
  const resource = jidResource(fullJid);
  if (resource !== '' && resource.length <= 24 && /^[\w.@-]+$/.test(resource)) return resource;
  return shortUniqueNick();
}
