/**
 * Either XMPP server of the harness behind one interface, so a test can run over both:
 * `describe.each(XMPP_SERVER_KINDS)(…, (kind) => { … startXmppServer(kind, { users }) … })`,
 * or the whole integration suite once per server: a test that calls startTestXmppServer gets the
 * server COPILOT_TEST_XMPP names (vitest.config.ts runs those files again with `ejabberd`).
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
  | 'roomJidsPublic'
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

/** The variable that picks the server of startTestXmppServer: `prosody` (default) or `ejabberd`. */
export const TEST_XMPP_VARIABLE = 'COPILOT_TEST_XMPP';

export function testXmppServerKind(env: NodeJS.ProcessEnv = process.env): XmppServerKind {
  const value = env[TEST_XMPP_VARIABLE] ?? 'prosody';
  const kind = XMPP_SERVER_KINDS.find((known) => known === value);
  if (kind === undefined) {
    throw new Error(
      `${TEST_XMPP_VARIABLE}=${value}: expected one of ${XMPP_SERVER_KINDS.join(', ')}`,
    );
  }
  return kind;
}

/**
 * The suite's XMPP server: Prosody, or ejabberd when COPILOT_TEST_XMPP=ejabberd. Tests that need
 * what only Prosody has (invites, prosodyctl, its Lua config) call startProsody instead.
 */
export function startTestXmppServer(options: XmppServerOptions = {}): Promise<XmppServer> {
  return startXmppServer(testXmppServerKind(), options);
}
