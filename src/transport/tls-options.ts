/**
 * STARTTLS with our own TLS options. xmpp.js (0.14) upgrades with `tls.connect({ socket, host })`
 * only, so a private CA cannot be given and "refuse to log in without TLS" cannot be said. This
 * module takes over the stream-features step that offers STARTTLS, before xmpp.js's own
 * middleware sees it, and does the same negotiation (RFC 6120 5.4) with `tls.connect` options.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Client } from '@xmpp/client';
import { xml, type Element } from '@xmpp/xml';
import { isSwitchOn } from '../protocol/config-file';
import { errorMessage } from '../base/errors';

export interface SessionTlsOptions {
  /** PEM CA certificate(s) trusted for the server certificate, e.g. a private CA. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Default true. false accepts any certificate (tests only; logged as a warning by callers). */
  rejectUnauthorized?: boolean;
  /** Refuse to log in when the server does not offer STARTTLS (or the upgrade fails). */
  requireTls?: boolean;
  /** Name checked against the certificate; default the XMPP domain. */
  servername?: string;
}

const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';

/** The part of the xmpp.js Connection this module relies on (0.14). */
interface StartTlsEntity extends EventEmitter {
  socket: unknown;
  _onElement(element: Element): void;
  _attachSocket(socket: EventEmitter): void;
  sendReceive(element: Element): Promise<Element>;
  restart(): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * What xmpp.js expects of a socket (like @xmpp/tls's Socket): connect/data/close/error events,
 * write, end, and `secure`. The TLS socket itself is `socket`.
 */
export class UpgradedSocket extends EventEmitter {
  readonly secure = true;

  constructor(readonly socket: tls.TLSSocket) {
    super();
    socket.on('data', (data: Buffer) => this.emit('data', data));
    socket.on('close', (hadError: boolean) => this.emit('close', hadError));
    socket.on('error', (error: Error) => this.emit('error', error));
  }

  write(data: string, callback?: (error?: Error | null) => void): void {
    this.socket.write(data, callback);
  }

  end(): void {
    this.socket.end();
  }
}

function isPlainTcp(socket: unknown): socket is net.Socket {
  return socket instanceof net.Socket && !(socket instanceof tls.TLSSocket);
}

/** The TLS socket under an xmpp.js connection, or undefined when the stream is not encrypted. */
export function tlsSocketOf(xmpp: Client): tls.TLSSocket | undefined {
  const socket: unknown = xmpp.socket;
  if (socket instanceof tls.TLSSocket) return socket;
  const inner =
    typeof socket === 'object' && socket !== null
      ? (socket as { socket?: unknown }).socket
      : undefined;
  return inner instanceof tls.TLSSocket ? inner : undefined;
}

function secureConnect(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options);
    const onError = (error: Error): void => reject(error);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Makes `xmpp` negotiate STARTTLS with `options`. Call once, before xmpp.start(). Failures
 * (certificate not trusted, no STARTTLS with requireTls) are emitted as 'error', which makes
 * xmpp.start() reject.
 */
export function installStartTls(xmpp: Client, domain: string, options: SessionTlsOptions): void {
  const entity = xmpp as unknown as StartTlsEntity;
  const original = entity._onElement.bind(entity);

  const fail = (error: Error): void => {
    entity.emit('error', error);
    entity.disconnect().catch(() => undefined);
  };

  const upgrade = async (socket: net.Socket): Promise<void> => {
    const answer = await entity.sendReceive(xml('starttls', { xmlns: NS_TLS }));
    if (!answer.is('proceed', NS_TLS)) throw new Error('the XMPP server refused STARTTLS');
    const tlsSocket = await secureConnect({
      socket,
      host: domain,
      servername: options.servername ?? domain,
      ca: options.ca,
      rejectUnauthorized: options.rejectUnauthorized ?? true,
    });
    entity._attachSocket(new UpgradedSocket(tlsSocket));
    // The new socket is already connected; xmpp.js waits for no 'connect' from it.
    await entity.restart();
  };

  entity._onElement = (element: Element): void => {
    if (element.is('features', NS_STREAM) && isPlainTcp(entity.socket)) {
      const socket = entity.socket;
      if (element.getChild('starttls', NS_TLS)) {
        upgrade(socket).catch((error: unknown) =>
          fail(new Error(`TLS with the XMPP server failed: ${errorMessage(error)}`)),
        );
        return;
      }
      if (options.requireTls) {
        fail(new Error('the XMPP server does not offer STARTTLS and requireTls is set'));
        return;
      }
    }
    original(element);
  };
}

/**
 * From configuration: `AGENT_JABBER_CA_FILE` / `JM_JABBER_CA_FILE` (PEM file) and
 * `AGENT_REQUIRE_TLS` / `JM_REQUIRE_TLS` (1 to refuse a login without TLS). Undefined when
 * neither is set, leaving xmpp.js's own STARTTLS (system CAs) in place.
 */
export function sessionTlsFromConfig(
  caFile: string | undefined,
  requireTls: string | undefined,
): SessionTlsOptions | undefined {
  const required = isSwitchOn(requireTls);
  if (!caFile && !required) return undefined;
  const options: SessionTlsOptions = { requireTls: required };
  if (caFile) {
    try {
      options.ca = fs.readFileSync(caFile, 'utf8');
    } catch (error) {
      const reason = errorMessage(error);
      throw new Error(`CA file ${caFile} cannot be read: ${reason}`);
    }
  }
  return options;
}
