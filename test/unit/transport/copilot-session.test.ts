import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { xml, type Element } from '@xmpp/xml';
import { encodeMessage, type Command } from '@copilot/protocol';
import { CopilotSession, SendError } from '@copilot/transport/copilot-session';

/** Just enough of an xmpp.js client for the session: events, send, start/stop, reconnect. */
class FakeClient extends EventEmitter {
  status = 'offline';
  socket = null;
  sent: Element[] = [];
  streamManagement = { id: '', inbound: 0, outbound: 0, outbound_q: [] as unknown[] };
  reconnect = { stop: (): void => undefined, reconnect: (): Promise<void> => Promise.resolve() };

  start(): Promise<void> {
    this.goOnline();
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

  goOnline(): void {
    this.status = 'online';
    this.emit('online', { toString: () => 'agent@localhost/a' });
  }

  drop(): void {
    this.status = 'disconnect';
    this.emit('disconnect');
  }

  commandsSent(): Element[] {
    return this.sent.filter((stanza) => stanza.name === 'message');
  }
}

const fake = vi.hoisted(() => ({ client: undefined as unknown }));
vi.mock('@xmpp/client', () => ({
  client: () => fake.client,
}));

const ping: Command = { command: 'Heartbeat:ping' };

function incoming(id: string, command: Command): Element {
  return encodeMessage({
    kind: 'command',
    to: 'agent@localhost/a',
    from: 'jm@localhost/m',
    id,
    noack: false,
    command,
  });
}

function newSession(): CopilotSession {
  return new CopilotSession({
    service: 'xmpp://127.0.0.1:5222',
    domain: 'localhost',
    username: 'agent',
    password: 'secret',
    ackTimeoutMs: 1000,
    reconnect: { initialMs: 100, maxMs: 100, jitter: 0 },
  });
}

describe('CopilotSession', () => {
  let client: FakeClient;

  beforeEach(() => {
    vi.useFakeTimers();
    client = new FakeClient();
    fake.client = client;
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a pending message again after a reconnect even if its ack timer fired while offline', async () => {
    const session = newSession();
    await session.start();
    void session.send('jm@localhost', ping).catch(() => undefined);
    expect(client.commandsSent()).toHaveLength(1);
    // Offline without a disconnect yet: the ack timer fires and the resend cannot go out.
    client.emit('offline');
    await vi.advanceTimersByTimeAsync(1500);
    expect(client.commandsSent()).toHaveLength(1);
    client.goOnline();
    expect(client.commandsSent()).toHaveLength(2);
    await session.stop();
  });

  it('rejects a send made after stop() instead of leaving it pending forever', async () => {
    const session = newSession();
    await session.start();
    await session.stop();
    await expect(session.send('jm@localhost', ping)).rejects.toMatchObject({
      reason: 'stopped',
    });
    await expect(session.send('jm@localhost', ping)).rejects.toBeInstanceOf(SendError);
    expect(session.pendingCount).toBe(0);
  });

  it('gives every send() of a still-pending id the one outcome, its ack', async () => {
    const session = newSession();
    await session.start();
    const first = session.send('jm@localhost', ping, { id: 'same' });
    const second = session.send('jm@localhost', ping, { id: 'same' });
    expect(client.commandsSent()).toHaveLength(1);
    client.emit(
      'stanza',
      encodeMessage({
        kind: 'ack',
        to: 'agent@localhost/a',
        from: 'jm@localhost/m',
        ackedId: 'same',
      }),
    );
    await expect(first).resolves.toBe('same');
    await expect(second).resolves.toBe('same');
    expect(session.pendingCount).toBe(0);
    await session.stop();
  });

  it('stops calling a command handler once it is removed', async () => {
    const session = newSession();
    await session.start();
    const calls: string[] = [];
    const remove = session.onCommand((message) => {
      calls.push(message.id);
    });
    const deliver = (id: string): void => {
      client.emit(
        'stanza',
        encodeMessage({
          kind: 'command',
          to: 'agent@localhost/a',
          from: 'jm@localhost/m',
          id,
          noack: true,
          command: ping,
        }),
      );
    };
    deliver('one');
    await vi.advanceTimersByTimeAsync(0);
    remove();
    deliver('two');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['one']);
    await session.stop();
  });

  it('acks a command only once its handler has finished, and not at all when it fails', async () => {
    const session = newSession();
    await session.start();
    let finish: () => void = () => undefined;
    let fail = false;
    session.onCommand(
      () =>
        new Promise<void>((resolve, reject) => {
          finish = () => (fail ? reject(new Error('disk full')) : resolve());
        }),
    );
    const acks = (): string[] =>
      client.sent.flatMap((stanza) => (stanza.attrs.ack ? [String(stanza.attrs.ack)] : []));
    const deliver = (id: string): void => {
      client.emit('stanza', incoming(id, ping));
    };
    fail = true;
    deliver('first');
    await vi.advanceTimersByTimeAsync(0);
    // A resend while the first copy is being handled: no second run, no ack yet.
    deliver('first');
    await vi.advanceTimersByTimeAsync(0);
    expect(acks()).toEqual([]);
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(acks()).toEqual([]);
    // Failed: forgotten, so the next resend is handled again, and acked once it succeeds.
    fail = false;
    deliver('first');
    await vi.advanceTimersByTimeAsync(0);
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(acks()).toEqual(['first']);
    deliver('first');
    await vi.advanceTimersByTimeAsync(0);
    expect(acks()).toEqual(['first', 'first']);
    await session.stop();
  });

  it('handles at most maxHandlingPerSender commands of one sender at once; others are not starved', async () => {
    const session = new CopilotSession({
      service: 'xmpp://127.0.0.1:5222',
      domain: 'localhost',
      username: 'agent',
      password: 'secret',
      maxHandlingPerSender: 3,
    });
    await session.start();
    const release: Array<() => void> = [];
    const handled: string[] = [];
    session.onCommand(
      (message) =>
        new Promise<void>((resolve) => {
          handled.push(`${message.from} ${message.id}`);
          release.push(resolve);
        }),
    );
    for (let index = 0; index < 10; index += 1) client.emit('stanza', incoming(`m${index}`, ping));
    const from = (jid: string, id: string): Element =>
      encodeMessage({
        kind: 'command',
        to: 'agent@localhost/a',
        from: jid,
        id,
        noack: false,
        command: ping,
      });
    // Another resource of the same account does not get a budget of its own; another account does.
    client.emit('stanza', from('jm@localhost/another-resource', 'r1'));
    client.emit('stanza', from('other@localhost/b', 'o1'));
    await vi.advanceTimersByTimeAsync(0);
    expect(handled).toEqual([
      'jm@localhost/m m0',
      'jm@localhost/m m1',
      'jm@localhost/m m2',
      'other@localhost/b o1',
    ]);
    for (const done of release) done();
    await vi.advanceTimersByTimeAsync(0);
    // The dropped ones were not acked: the sender resends, and now they are handled.
    const acked = client.sent.flatMap((stanza) => (stanza.attrs.ack ? [stanza.attrs.ack] : []));
    expect(acked.sort()).toEqual(['m0', 'm1', 'm2', 'o1']);
    client.emit('stanza', incoming('m7', ping));
    await vi.advanceTimersByTimeAsync(0);
    expect(handled).toContain('jm@localhost/m m7');
    await session.stop();
  });

  it('acks a well-formed message whose command it does not know (2.1), without handling it', async () => {
    const session = newSession();
    await session.start();
    const handled: string[] = [];
    session.onCommand((message) => {
      handled.push(message.command.command);
    });
    client.emit(
      'stanza',
      xml(
        'message',
        { to: 'agent@localhost/a', from: 'jm@localhost/m', id: 'odd-1' },
        xml('body', {}, xml('info', { command: '_BASE64:c29tZXRoaW5nTmV3' })),
      ),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(client.sent.map((stanza) => stanza.attrs.ack)).toContain('odd-1');
    expect(handled).toEqual([]);
    await session.stop();
  });

  it('opens a fresh stream after a disconnect: nothing to resume, no unacked stanzas or counts kept', async () => {
    const session = newSession();
    await session.start();
    client.streamManagement.id = 'resumable';
    // What the dropped stream left: stanzas unacked, stanzas counted (xmpp.js keeps both).
    client.streamManagement.outbound_q.push({ stanza: 'unacked' });
    client.streamManagement.inbound = 7;
    client.streamManagement.outbound = 3;
    client.drop();
    expect(client.streamManagement).toEqual({ id: '', inbound: 0, outbound: 0, outbound_q: [] });
    await session.stop();
  });
});

describe('CopilotSession reconnect', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('backs off once per failed attempt, also when the failure emitted a disconnect', async () => {
    const client = new FakeClient();
    fake.client = client;
    let attempts = 0;
    client.reconnect.reconnect = () => {
      attempts += 1;
      client.drop();
      return Promise.reject(new Error('ECONNREFUSED'));
    };
    const session = new CopilotSession({
      service: 'xmpp://127.0.0.1:5222',
      domain: 'localhost',
      username: 'agent',
      password: 'secret',
      reconnect: { initialMs: 100, maxMs: 10_000, jitter: 0 },
    });
    await session.start();
    client.drop();
    // Retries at 100 ms, then 200 ms later, then 400 ms later: 100, 300, 700.
    await vi.advanceTimersByTimeAsync(350);
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(400);
    expect(attempts).toBe(3);
    await session.stop();
  });
});
