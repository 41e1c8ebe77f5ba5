/**
 * What xmpp.js (0.14) does wrong when a connection breaks or a server is slow, made safe, and
 * the login step a failure happened in, so that a login cut short fails with a reason instead of
 * ending the process.
 *
 * - Bytes after the stream was given up. `disconnect()` waits 2 s for the server's
 *   `</stream:stream>`, then drops the XML parser and waits up to 2 s more for the socket to
 *   close. A slow server's bytes that arrive in between reach `_onData`, which calls
 *   `this.parser.write` on null: a TypeError thrown from a socket 'data' listener, an uncaught
 *   exception that ends the process (seen when copilot-monitor's first login timed out in a
 *   container still starting up, and in a bench when 1,000 agents logged in at once). They are
 *   dropped: nobody is listening to that stream any more.
 * - Writes after the socket is gone (`this.socket.write` on null) fail with "Cannot read
 *   properties of null (reading 'write')", which xmpp.js then reports as the login's error.
 *   They fail with {@link ConnectionClosedError} instead.
 */
import net from 'node:net';
import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';

/** A write to an XMPP connection whose socket is already closed. */
export class ConnectionClosedError extends Error {
  constructor() {
    super('the connection is closed');
    this.name = 'ConnectionClosedError';
  }
}

/** The private parts of xmpp.js's Connection (0.14) the guards replace. */
interface GuardedEntity {
  socket: unknown;
  parser: unknown;
  _onData(data: Buffer): void;
  write(text: string): Promise<void>;
}

/**
 * Installs the guards on a client. Call before `start()`: xmpp.js binds `_onData` when it
 * attaches its first socket.
 */
export function guardClosedStream(xmpp: Client): void {
  const entity = xmpp as unknown as Partial<GuardedEntity>;
  if (typeof entity._onData !== 'function' || typeof entity.write !== 'function') return;
  const onData = entity._onData.bind(entity);
  entity._onData = (data: Buffer): void => {
    if (entity.parser) onData(data);
  };
  const write = entity.write.bind(entity);
  entity.write = async (text: string): Promise<void> => {
    if (!entity.socket) throw new ConnectionClosedError();
    try {
      await write(text);
    } catch (error) {
      // @xmpp/tls's socket drops its inner socket on close: the same null write, one level down.
      if (error instanceof TypeError) throw new ConnectionClosedError();
      throw error;
    }
  };
}

/**
 * Destroys the TCP or TLS socket under the client's current socket (xmpp.js's TLS socket and
 * our STARTTLS wrap it): the connection is gone at once, and xmpp.js sees it close.
 */
export function destroySocket(xmpp: Pick<Client, 'socket'>): void {
  const socket: unknown = xmpp.socket;
  const inner =
    typeof socket === 'object' && socket !== null
      ? (socket as { socket?: unknown }).socket
      : undefined;
  if (socket instanceof net.Socket) socket.destroy();
  else if (inner instanceof net.Socket) inner.destroy();
}

/**
 * Ends a connection whose login failed: the socket is destroyed at once (no closing handshake
 * with a server that is slow or gone: up to 4 s of xmpp.js's timeouts, late bytes), then the
 * client is stopped. An 'error' xmpp.js emits later (its own start() can leave a promise waiting
 * for 'online' or 'error' behind) is swallowed instead of becoming an unhandled rejection.
 */
export async function abortConnection(xmpp: Client): Promise<void> {
  xmpp.removeAllListeners('error');
  xmpp.on('error', () => undefined);
  destroySocket(xmpp);
  await xmpp.stop().catch(() => undefined);
}

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SM = 'urn:xmpp:sm:3';

function isElement(value: unknown): value is Element {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { is?: unknown }).is === 'function' &&
    typeof (value as { getChild?: unknown }).getChild === 'function'
  );
}

/** The login step a client is in, named for an error message ("… during <phase>"). */
export interface LoginPhase {
  current(): string;
}

/** Follows a client's login from its status changes and the elements it sends and receives. */
export function trackLoginPhase(xmpp: Pick<Client, 'on'>): LoginPhase {
  let phase = 'the connection to the server';
  let secured = false;
  let authenticated = false;
  xmpp.on('status', (status: string) => {
    if (status === 'connecting') phase = 'the connection to the server';
    else if (status === 'opening' || status === 'connect') {
      phase = authenticated
        ? 'the stream restart after authentication'
        : secured
          ? 'the stream restart after STARTTLS'
          : 'the stream header';
    } else if (status === 'open') phase = 'stream negotiation';
    else if (status === 'online') phase = 'the session start after resource binding';
  });
  xmpp.on('send', (element: unknown) => {
    if (!isElement(element)) return;
    if (element.is('starttls', NS_TLS)) phase = 'STARTTLS';
    else if (element.is('auth', NS_SASL)) phase = 'SASL authentication';
    else if (element.is('enable', NS_SM)) phase = 'stream management (XEP-0198) enable';
    else if (element.name === 'iq' && element.getChild('bind', NS_BIND)) {
      phase = 'resource binding';
    }
  });
  xmpp.on('element', (element: unknown) => {
    if (!isElement(element)) return;
    if (element.is('proceed', NS_TLS)) {
      secured = true;
      phase = 'the TLS handshake';
    } else if (element.is('success', NS_SASL)) {
      authenticated = true;
      phase = 'the stream restart after authentication';
    }
  });
  return { current: () => phase };
}
