import { describe, expect, it } from 'vitest';
import { xmppServiceUrl } from '@copilot/transport/xmpp-service';

describe('xmppServiceUrl', () => {
  it('turns the report-style server settings into a service URL', () => {
    expect(xmppServiceUrl('xmpp.cern.ch')).toBe('xmpp://xmpp.cern.ch:5222');
    expect(xmppServiceUrl('127.0.0.1:15222')).toBe('xmpp://127.0.0.1:15222');
    expect(xmppServiceUrl('[::1]:5222')).toBe('xmpp://[::1]:5222');
    expect(xmppServiceUrl('xmpps://x.example:5223')).toBe('xmpps://x.example:5223');
    expect(xmppServiceUrl('wss://x.example/xmpp-websocket')).toBe('wss://x.example/xmpp-websocket');
  });

  it('refuses what is neither a host[:port] nor a URL', () => {
    for (const bad of ['', 'a b', 'host:port', 'user@host', 'host:5222:1']) {
      expect(() => xmppServiceUrl(bad), bad).toThrow(/not a host, host:port or xmpp:\/\/ URL/);
    }
  });
});
