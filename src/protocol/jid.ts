/** Splits JIDs without a full parser: Co-Pilot addresses are plain `local@domain/resource`. */
export function bareJid(jid: string): string {
  const slash = jid.indexOf('/');
  return slash === -1 ? jid : jid.slice(0, slash);
}

/**
 * The account a JID belongs to, as the trust rule and secure mode compare it: the bare JID,
 * lower-cased (XMPP servers treat the local part and domain case-insensitively).
 */
export function accountOf(jid: string): string {
  return bareJid(jid).toLowerCase();
}

/** The resource (for a room JID, the occupant's nickname), or '' when there is none. */
export function jidResource(jid: string): string {
  const slash = jid.indexOf('/');
  return slash === -1 ? '' : jid.slice(slash + 1);
}

/** One spelling per address: the bare part lower-cased, the resource as it is. */
export function jidKey(jid: string): string {
  return `${bareJid(jid).toLowerCase()}/${jidResource(jid)}`;
}

/** Case-insensitive comparison of the bare parts, exact comparison of the resources. */
export function sameJid(a: string, b: string): boolean {
  return jidKey(a) === jidKey(b);
}
