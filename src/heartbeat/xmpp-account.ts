import { xmppServiceUrl, type CopilotSessionOptions } from '../transport';

export interface XmppAccountSettings {
  /** `xmpp.cern.ch`, `127.0.0.1:5222` or a full service URL (`xmpp://host:port`). */
  server: string;
  domain: string;
  /** User name, or a JID `user@domain[/resource]` (its domain must match `domain`). */
  id: string;
  password: string;
}

/** The CopilotSession options for a component's *_JABBER_* settings. */
export function sessionOptionsFor(
  account: XmppAccountSettings,
  extra: Partial<CopilotSessionOptions> = {},
): CopilotSessionOptions {
  const service = xmppServiceUrl(account.server);
  let username = account.id;
  let resource = extra.resource;
  const at = username.indexOf('@');
  if (at !== -1) {
    const slash = username.indexOf('/', at);
    if (slash !== -1 && resource === undefined) resource = username.slice(slash + 1);
    username = username.slice(0, at);
  }
  const options: CopilotSessionOptions = {
    ...extra,
    service,
    domain: account.domain,
    username,
    password: account.password,
  };
  if (resource !== undefined) options.resource = resource;
  return options;
}
