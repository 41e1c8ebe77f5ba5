const SERVICE_URL = /^[a-z][a-z0-9+.-]*:\/\//i;
const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?$/;

/**
 * The service URL xmpp.js connects to, from a configured server: `host`, `host:port` (the
 * report's *_JABBER_SERVER values; 5222 when no port is given) or a full URL such as
 * `xmpp://host:port`, which is kept as it is.
 */
export function xmppServiceUrl(server: string): string {
  if (SERVICE_URL.test(server)) return server;
  const match = HOST_PORT.exec(server);
  if (!match?.[1])
    throw new Error(`not a host, host:port or xmpp:// URL: ${JSON.stringify(server)}`);
  return `xmpp://${match[1]}:${match[2] ?? '5222'}`;
}
