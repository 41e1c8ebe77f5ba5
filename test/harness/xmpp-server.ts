/**
 * Either XMPP server of the harness behind one interface, so a test can run over both:
 * `describe.each(XMPP_SERVER_KINDS)(…, (kind) => { … startXmppServer(kind, { users }) … })`.
 */
import { startEjabberd, type EjabberdOptions } from './ejabberd';
import { startProsody, type ProsodyOptions, type ProsodyServer } from './prosody';

export const XMPP_SERVER_KINDS = ['prosody', 'ejabberd'] as const;
export type XmppServerKind = (typeof XMPP_SERVER_KINDS)[number];

/** What both servers take; server-specific options stay with startProsody and startEjabberd. */
export type XmppServerOptions = Pick<
  ProsodyOptions & EjabberdOptions,
  | 'domain'
  | 'mucDomain'
  | 'tls'
  | 'users'
  | 'stanzaSizeLimit'
  | 'readyTimeoutMs'
  | 'roomPresence'
  | 'mucAdmins'
>;

export type XmppServer = ProsodyServer & { readonly kind: XmppServerKind };

export async function startXmppServer(
  kind: XmppServerKind,
  options: XmppServerOptions = {},
): Promise<XmppServer> {
  if (kind === 'ejabberd') return startEjabberd(options);
  const prosody = await startProsody(options);
  return Object.assign(prosody, { kind: 'prosody' as const });
}
