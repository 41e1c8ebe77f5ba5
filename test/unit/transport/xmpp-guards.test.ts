import { EventEmitter } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { xml } from '@xmpp/xml';
import type { Client } from '@xmpp/client';
import {
  ConnectionClosedError,
  destroySocket,
  guardClosedStream,
  trackLoginPhase,
} from '@copilot/transport/xmpp-guards';

/** xmpp.js's Connection as far as the guards go: `_onData` feeds the parser, `write` the socket. */
class FakeConnection extends EventEmitter {
  parser: { write(text: string): void } | null = { write: (text) => this.parsed.push(text) };
  socket: { write(text: string, done: (error?: Error) => void): void } | null = {
    write: (text, done) => {
      this.written.push(text);
      done();
    },
  };
  parsed: string[] = [];
  written: string[] = [];

  _onData(data: Buffer): void {
    (this.parser as { write(text: string): void }).write(data.toString('utf8'));
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      (this.socket as NonNullable<FakeConnection['socket']>).write(text, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  }
}

function guarded(): FakeConnection {
  const connection = new FakeConnection();
  guardClosedStream(connection as unknown as Client);
  return connection;
}

describe('guardClosedStream', () => {
  it('parses bytes while the stream is open and drops those that come after it was given up', () => {
    const connection = guarded();
    connection._onData(Buffer.from('<a/>'));
    connection.parser = null;
    // Unguarded: "Cannot read properties of null (reading 'write')", thrown from a 'data' event.
    expect(() => connection._onData(Buffer.from('</stream:stream>'))).not.toThrow();
    expect(connection.parsed).toEqual(['<a/>']);
  });

  it('writes while there is a socket, and fails with ConnectionClosedError once it is gone', async () => {
    const connection = guarded();
    await connection.write('<presence/>');
    expect(connection.written).toEqual(['<presence/>']);
    connection.socket = null;
    await expect(connection.write('<presence/>')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('turns the null write of a socket that lost its inner socket into ConnectionClosedError', async () => {
    const connection = guarded();
    connection.socket = {
      write: () => {
        const inner = null as unknown as { write(): void };
        inner.write();
      },
    };
    await expect(connection.write('x')).rejects.toThrow('the connection is closed');
  });

  it('leaves a client without those internals (a test double) alone', () => {
    const plain = new EventEmitter();
    expect(() => guardClosedStream(plain as unknown as Client)).not.toThrow();
  });
});

describe('trackLoginPhase', () => {
  it('names each step of a login with STARTTLS, SASL, binding and stream management', () => {
    const client = new EventEmitter();
    const phase = trackLoginPhase(client as unknown as Client);
    const seen: string[] = [];
    const step = (event: string, value: unknown): void => {
      client.emit(event, value);
      seen.push(phase.current());
    };
    step('status', 'connecting');
    step('status', 'opening');
    step('status', 'open');
    step('send', xml('starttls', { xmlns: 'urn:ietf:params:xml:ns:xmpp-tls' }));
    step('element', xml('proceed', { xmlns: 'urn:ietf:params:xml:ns:xmpp-tls' }));
    step('status', 'opening');
    step('send', xml('auth', { xmlns: 'urn:ietf:params:xml:ns:xmpp-sasl' }));
    step('element', xml('success', { xmlns: 'urn:ietf:params:xml:ns:xmpp-sasl' }));
    step('status', 'opening');
    step(
      'send',
      xml('iq', { type: 'set' }, xml('bind', { xmlns: 'urn:ietf:params:xml:ns:xmpp-bind' })),
    );
    step('status', 'online');
    step('send', xml('enable', { xmlns: 'urn:xmpp:sm:3' }));
    expect(seen).toEqual([
      'the connection to the server',
      'the stream header',
      'stream negotiation',
      'STARTTLS',
      'the TLS handshake',
      'the stream restart after STARTTLS',
      'SASL authentication',
      'the stream restart after authentication',
      'the stream restart after authentication',
      'resource binding',
      'the session start after resource binding',
      'stream management (XEP-0198) enable',
    ]);
  });
});

describe('destroySocket', () => {
  it('destroys the TCP socket under a wrapper (a TLS socket or our STARTTLS one)', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    destroySocket({ socket: { socket } } as unknown as Client);
    expect(socket.destroyed).toBe(true);
    destroySocket({ socket: null } as unknown as Client);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
