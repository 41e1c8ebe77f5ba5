// CopilotSession with a fake xmpp.js client: the form it writes to each peer, and nothing sent
// before stream management (XEP-0198) is enabled.
import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parse as parseXml } from 'ltx';
import { xml, type Element } from '@xmpp/xml';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { COPILOT_NS, encodeMessage, type CommandMessage } from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport/copilot-session';
import { SM_NS } from '@copilot/transport/stream-management';

class FakeClient extends EventEmitter {
  status = 'offline';
  socket = null;
  sent: Element[] = [];
  streamManagement = { id: '', inbound: 0, outbound: 0, outbound_q: [] as unknown[] };
  reconnect = { stop: (): void => undefined, reconnect: (): Promise<void> => Promise.resolve() };
  /** Stream features after authentication; with <sm/> the server offers XEP-0198. */
  features = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`;

  start(): Promise<void> {
    this.emit('element', parseXml(this.features));
    this.status = 'online';
    this.emit('online', { toString: () => 'agent@localhost/a' });
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.status = 'offline';
    return Promise.resolve();
  }

  send(stanza: Element): Promise<void> {
    this.sent.push(stanza);
    return Promise.resolve();
  }

  receive(stanza: Element): void {
    this.emit('element', stanza);
    if (stanza.name === 'message' || stanza.name === 'presence') this.emit('stanza', stanza);
  }

  messages(): Element[] {
    return this.sent.filter((stanza) => stanza.name === 'message');
  }
}

const fake = vi.hoisted(() => ({ client: undefined as unknown }));
vi.mock('@xmpp/client', () => ({ client: () => fake.client }));

function newSession(): CopilotSession {
  return new CopilotSession({
    service: 'xmpp://127.0.0.1:5222',
    domain: 'localhost',
    username: 'agent',
    password: 'secret',
  });
}

function fromManager(form: 'report' | 'namespaced', id: string): Element {
  const message: CommandMessage = {
    kind: 'command',
    to: 'agent@localhost/a',
    from: 'jm@localhost/generic',
    id,
    noack: false,
    command: { command: 'Heartbeat:ping' },
  };
  return encodeMessage(message, form);
}

const hasNamespaced = (stanza: Element | undefined): boolean =>
  stanza?.children.some((child) => typeof child !== 'string' && child.attrs.xmlns === COPILOT_NS) ??
  false;

describe('CopilotSession: the form of the message layer', () => {
  let client: FakeClient;
  beforeEach(() => {
    client = new FakeClient();
    fake.client = client;
  });

  it('a peer not heard from gets both forms; then the form it sent; acks follow their message', async () => {
    const session = newSession();
    session.onCommand(() => undefined);
    await session.start();
    void session.send('jm@localhost', { command: 'pong' }, { noack: true });
    const first = client.messages().at(-1);
    expect(first?.getChild('body')?.getChild('info')).toBeDefined();
    expect(hasNamespaced(first)).toBe(true);

    client.receive(fromManager('namespaced', 'n-1'));
    await nextTurn();
    const ack = client.messages().at(-1);
    expect(ack?.getChild('ack', COPILOT_NS)?.attrs.id).toBe('n-1');
    expect(ack?.attrs.ack).toBeUndefined();
    // the manager's bare JID learnt it too
    void session.send('jm@localhost', { command: 'pong' }, { noack: true });
    const second = client.messages().at(-1);
    expect(second?.getChild('body')).toBeUndefined();
    expect(second?.getChild('info', COPILOT_NS)).toBeDefined();

    client.receive(fromManager('report', 'r-1'));
    await nextTurn();
    const reportAck = client.messages().at(-1);
    expect(reportAck?.attrs.ack).toBe('r-1');
    expect(hasNamespaced(reportAck)).toBe(false);
    void session.send('jm@localhost/generic', { command: 'pong' }, { noack: true });
    expect(hasNamespaced(client.messages().at(-1))).toBe(false);
    await session.stop();
  });

  it('a forced form is written whatever the peer sent', async () => {
    const session = new CopilotSession({
      service: 'xmpp://127.0.0.1:5222',
      domain: 'localhost',
      username: 'agent',
      password: 'secret',
      wireFormat: { mode: 'namespaced' },
    });
    session.onCommand(() => undefined);
    await session.start();
    client.receive(fromManager('report', 'r-2'));
    await nextTurn();
    expect(client.messages().at(-1)?.getChild('ack', COPILOT_NS)).toBeDefined();
    await session.stop();
  });
});

describe('CopilotSession: stream management', () => {
  it('sends nothing (presence, room join, pending commands) before <enabled/>; start() waits', async () => {
    const client = new FakeClient();
    client.features = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='${SM_NS}'/></stream:features>`;
    fake.client = client;
    const session = newSession();
    session.joinRoom('room@conference.localhost', 'agent');
    let started = false;
    const starting = session.start().then(() => {
      started = true;
    });
    await nextTurn();
    expect(started).toBe(false);
    expect(session.isOnline).toBe(false);
    // what xmpp.js sends right after binding: <enable/>, without asking for resumption
    await client.send(xml('enable', { xmlns: SM_NS, resume: 'true' }));
    expect(client.sent).toHaveLength(1);
    expect(client.sent[0]?.attrs.resume).toBeUndefined();
    client.receive(xml('enabled', { xmlns: SM_NS, id: 'sm-1' }));
    await starting;
    expect(session.isOnline).toBe(true);
    const names = client.sent.map((stanza) => `${stanza.name} ${stanza.attrs.to ?? ''}`.trim());
    expect(names).toEqual(['enable', 'presence', 'presence room@conference.localhost/agent']);
    await session.stop();
  });
});
