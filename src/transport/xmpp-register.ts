/**
 * In-band registration (XEP-0077) with an invite token, on a raw stream: @xmpp/client has no
 * IBR. Prosody 0.12 (mod_invites + mod_invites_register + mod_register_ibr) takes the token as
 * XEP-0379's pre-auth IQ before the register IQ, on the same unauthenticated stream:
 *
 *   <iq type='set' id='…'><preauth xmlns='urn:xmpp:pars:0' token='TOKEN'/></iq>
 *   <iq type='set' id='…'><query xmlns='jabber:iq:register'>
 *     <username>u</username><password>p</password></query></iq>
 *
 * (mod_invites_register.lua: the preauth IQ stores the validated invite on the session, and
 * its `user-registering` hook refuses registration without one when registration_invite_only.)
 * STARTTLS comes first, with the CA given (Node verifies the chain and the name), and when a
 * fingerprint is given the certificate chain must contain that certificate.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Parser, xml, type Element } from '@xmpp/xml';
import { CopilotError, errorMessage } from '../base/errors';
import { escapeLogText } from '../base/logger';

const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_REGISTER = 'jabber:iq:register';
const NS_PREAUTH = 'urn:xmpp:pars:0';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/**
 * What a registration may read from the server: features, a proceed and two IQ replies are a
 * few kilobytes; a server (the attach link's author's) that sends more is cut off.
 */
export const MAX_SERVER_BYTES = 256 * 1024;
/** The server's error text in our message: escaped (it reaches terminals and logs) and cut. */
const MAX_ERROR_TEXT_CHARS = 200;

export class RegistrationError extends CopilotError {
  /** The XMPP error condition (`conflict`, `forbidden`, …), or `stream` / `tls`. */
  readonly condition: string;

  constructor(condition: string, message: string) {
    super('CONFIG_INVALID', `XMPP registration failed: ${message}`);
    this.name = 'RegistrationError';
    this.condition = condition;
  }
}

export interface RegistrationOptions {
  host: string;
  port: number;
  domain: string;
  username: string;
  password: string;
  inviteToken: string;
  /** PEM CA to trust for the server certificate (replaces the system's CAs). */
  ca?: string;
  /** SHA-256 (64 hex, any case, colons allowed) of a certificate the server's chain must hold. */
  caFingerprint256?: string;
  /** Refuse to register without TLS (default true). */
  requireTls?: boolean;
  timeoutMs?: number;
}

/** One stream over one socket: elements as promises, in order. */
class RawStream {
  private parser = new Parser();
  private waiting: Array<{ resolve: (el: Element) => void; reject: (e: Error) => void }> = [];
  private queued: Element[] = [];
  private failure: Error | undefined;
  private received = 0;

  constructor(
    public socket: net.Socket,
    private readonly domain: string,
  ) {
    this.attach(socket);
  }

  attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('data', (data: Buffer) => {
      this.received += data.length;
      if (this.received > MAX_SERVER_BYTES) {
        this.fail(
          new RegistrationError('size', `the server sent more than ${MAX_SERVER_BYTES} bytes`),
        );
        this.socket.destroy();
        return;
      }
      this.parser.write(data.toString('utf8'));
    });
    socket.on('error', (error: Error) => this.fail(error));
    socket.on('close', () => this.fail(new RegistrationError('stream', 'the server closed')));
  }

  private bindParser(): void {
    this.parser.on('element', (el: Element) => {
      const next = this.waiting.shift();
      if (next) next.resolve(el);
      else this.queued.push(el);
    });
    this.parser.on('error', (error: Error) => this.fail(error));
    this.parser.on('end', () => this.fail(new RegistrationError('stream', 'the stream ended')));
  }

  fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure);
  }

  /** Opens a (new) stream: a fresh parser, our header; resolves with the server's features. */
  async open(): Promise<Element> {
    this.parser = new Parser();
    this.queued = [];
    this.bindParser();
    this.socket.write(
      `<?xml version='1.0'?><stream:stream to='${this.domain}' version='1.0' ` +
        `xmlns='jabber:client' xmlns:stream='${NS_STREAM}'>`,
    );
    const features = await this.next();
    if (!features.is('features', NS_STREAM)) {
      throw new RegistrationError('stream', `expected stream features, got <${features.name}>`);
    }
    return features;
  }

  next(): Promise<Element> {
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  send(element: Element): void {
    this.socket.write(element.toString());
  }

  /** Sends an IQ set and waits for its result; an error reply throws with its condition. */
  async iq(id: string, child: Element): Promise<void> {
    this.send(xml('iq', { type: 'set', id }, child));
    for (;;) {
      const reply = await this.next();
      if (reply.name !== 'iq' || reply.attrs.id !== id) continue;
      if (reply.attrs.type === 'result') return;
      const error = reply.getChild('error');
      const condition =
        error?.children.find(
          (c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS_STANZAS,
        )?.name ?? 'unknown';
      const text = escapeLogText(
        error?.getChildText('text', NS_STANZAS) ?? '',
        MAX_ERROR_TEXT_CHARS,
      );
      throw new RegistrationError(
        escapeLogText(condition, 40),
        text === '' ? condition : `${condition}: ${text}`,
      );
    }
  }
}

function connectTcp(
  host: string,
  port: number,
  opened: (socket: net.Socket) => void,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    opened(socket);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function chainHolds(socket: tls.TLSSocket, fingerprint: string): boolean {
  const wanted = fingerprint.replace(/:/g, '').toLowerCase();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert && cert.fingerprint256 && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    if (cert.fingerprint256.replace(/:/g, '').toLowerCase() === wanted) return true;
    cert = cert.issuerCertificate;
  }
  return false;
}

async function startTls(
  stream: RawStream,
  options: RegistrationOptions,
  opened: (socket: net.Socket) => void,
): Promise<void> {
  stream.send(xml('starttls', { xmlns: NS_TLS }));
  const answer = await stream.next();
  if (!answer.is('proceed', NS_TLS)) throw new RegistrationError('tls', 'STARTTLS refused');
  const plain = stream.socket;
  plain.removeAllListeners('data');
  plain.removeAllListeners('close');
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      socket: plain,
      servername: options.domain,
      ca: options.ca,
      rejectUnauthorized: true,
    });
    opened(socket);
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', (error) =>
      reject(new RegistrationError('tls', `TLS failed: ${errorMessage(error)}`)),
    );
  });
  if (options.caFingerprint256 && !chainHolds(secure, options.caFingerprint256)) {
    secure.destroy();
    throw new RegistrationError('tls', "the server's certificate is not under the pinned CA");
  }
  stream.attach(secure);
}

/**
 * Registers `username` with `password` using the invite token. Throws RegistrationError:
 * `conflict` when the name is taken (pick another and call again; the invite is not used up),
 * `forbidden` when the invite is unknown, used or expired, `timeout` when the whole exchange
 * (connect, TLS handshake included) takes longer than `timeoutMs`, `size` when the server sends
 * more than MAX_SERVER_BYTES.
 */
export async function registerWithInvite(options: RegistrationOptions): Promise<void> {
  const sockets: net.Socket[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new RegistrationError('timeout', 'the server did not answer in time')),
      options.timeoutMs ?? 20_000,
    );
  });
  const exchange = register(options, (socket) => sockets.push(socket));
  // Once the race is decided the other side's outcome is of no interest.
  exchange.catch(() => undefined);
  try {
    await Promise.race([exchange, timeout]);
  } finally {
    clearTimeout(timer);
    // The plain socket and the TLS socket over it: a hung handshake ends here too.
    for (const socket of sockets) socket.destroy();
  }
}

async function register(
  options: RegistrationOptions,
  opened: (socket: net.Socket) => void,
): Promise<void> {
  const socket = await connectTcp(options.host, options.port, opened);
  const stream = new RawStream(socket, options.domain);
  let features = await stream.open();
  if (features.getChild('starttls', NS_TLS)) {
    await startTls(stream, options, opened);
    features = await stream.open();
  } else if (options.requireTls ?? true) {
    throw new RegistrationError('tls', 'the server offers no STARTTLS');
  }
  await stream.iq('preauth', xml('preauth', { xmlns: NS_PREAUTH, token: options.inviteToken }));
  await stream.iq(
    'register',
    xml(
      'query',
      { xmlns: NS_REGISTER },
      xml('username', {}, options.username),
      xml('password', {}, options.password),
    ),
  );
  stream.socket.write('</stream:stream>');
}
