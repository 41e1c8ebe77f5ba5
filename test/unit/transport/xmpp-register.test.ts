// In-band registration (src/transport/xmpp-register.ts) against hostile servers on a real
// loopback socket: the server an attach link names is the link author's, so what it sends (or
// does not send) must neither hang the attach, nor grow memory, nor reach a terminal raw.
// The registration against a real Prosody is test/integration/xmpp-register.test.ts.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { registerWithInvite, RegistrationError } from '@copilot/transport/xmpp-register';

const STREAM_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' from='example.org' id='s1' version='1.0'>";
const STARTTLS_FEATURES =
  "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";
const PLAIN_FEATURES = '<stream:features/>';

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

/** A raw TCP server; `onData` gets everything the client sends, as text, as it comes. */
async function hostileServer(onData: (socket: net.Socket, text: string) => void): Promise<number> {
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (data: Buffer) => onData(socket, data.toString('utf8')));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function options(port: number, extra: { requireTls?: boolean; timeoutMs?: number } = {}) {
  return {
    host: '127.0.0.1',
    port,
    domain: 'example.org',
    username: 'v-test',
    password: 'p'.repeat(24),
    inviteToken: 'invite-token-1',
    requireTls: extra.requireTls ?? true,
    timeoutMs: extra.timeoutMs ?? 500,
  };
}

async function failure(promise: Promise<unknown>): Promise<RegistrationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistrationError) return error;
    throw error;
  }
  throw new Error('registration succeeded');
}

describe('registration against a hostile server', () => {
  it('gives up at its timeout when the server says proceed and then never starts TLS', async () => {
    const port = await hostileServer((socket, text) => {
      if (text.includes('<stream:stream')) socket.write(STREAM_HEADER + STARTTLS_FEATURES);
      else if (text.includes('<starttls')) {
        socket.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      }
      // The TLS ClientHello that follows is never answered.
    });
    const started = Date.now();
    const outcome = await Promise.race([
      failure(registerWithInvite(options(port, { timeoutMs: 400 }))),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 3_000)),
    ]);
    expect(outcome).not.toBe('hung');
    expect((outcome as RegistrationError).condition).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops reading a server that sends without end, long before its timeout', async () => {
    const chunk = `<x>${'a'.repeat(64 * 1024)}</x>`;
    const port = await hostileServer((socket, text) => {
      if (!text.includes('<stream:stream')) return;
      socket.write(STREAM_HEADER + '<stream:features>');
      // The features element never closes: the client's parser would keep all of it.
      const pump = (): void => {
        while (!socket.destroyed && socket.write(chunk));
        if (!socket.destroyed) socket.once('drain', pump);
      };
      pump();
    });
    const started = Date.now();
    const error = await failure(
      registerWithInvite(options(port, { requireTls: false, timeoutMs: 20_000 })),
    );
    expect(error.condition).toBe('size');
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);

  it("escapes the server's error text: no escape sequences or line breaks reach a terminal", async () => {
    const hostileText = '\u001b]0;owned\u0007\u001b[2J\nfake: line\r\u202egnp.exe';
    const port = await hostileServer((socket, text) => {
      if (text.includes('<stream:stream')) socket.write(STREAM_HEADER + PLAIN_FEATURES);
      const id = /<iq[^>]* id=['"]([^'"]+)['"]/.exec(text)?.[1];
      if (id !== undefined) {
        socket.write(
          `<iq type='error' id='${id}'><error type='cancel'>` +
            "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
            `<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>${hostileText}</text>` +
            '</error></iq>',
        );
      }
    });
    const error = await failure(registerWithInvite(options(port, { requireTls: false })));
    expect(error.condition).toBe('forbidden');
    expect(error.message).toContain('fake: line');
    // eslint-disable-next-line no-control-regex -- the point: none of them may be left
    expect(error.message).not.toMatch(/[\u0000-\u001f\u007f\u202e]/);
  });

  it('refuses a server that offers no STARTTLS when TLS is required', async () => {
    const port = await hostileServer((socket, text) => {
      if (text.includes('<stream:stream')) socket.write(STREAM_HEADER + PLAIN_FEATURES);
    });
    const error = await failure(registerWithInvite(options(port)));
    expect(error.condition).toBe('tls');
  });
});
