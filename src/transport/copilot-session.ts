import type { TLSSocket } from 'node:tls';
import { client as createClient, type Client } from '@xmpp/client';
import { xml, type Element } from '@xmpp/xml';
import {
  accountOf,
  decodeStanza,
  encodeMessage,
  isNoack,
  isProtocolError,
  newMessageId,
  PeerWireForms,
  receivedForm,
  type WireFormatOptions,
  type BounceMessage,
  type Command,
  type CommandMessage,
  type MessageType,
  type ProtocolError,
  type ProtocolErrorCode,
  type ProtocolMessage,
} from '../protocol';
import { backoffDelay, type BackoffOptions } from '../base/backoff';
import { silentLogger, type Logger } from '../base/logger';
import { SeenIds } from '../base/seen-ids';
import { forgetStream, streamManagementGate } from './stream-management';
import { installStartTls, tlsSocketOf, type SessionTlsOptions } from './tls-options';
import {
  abortConnection,
  ConnectionClosedError,
  destroySocket,
  guardClosedStream,
  trackLoginPhase,
} from './xmpp-guards';
import { TypedEmitter } from '../base/typed-emitter';
import { CopilotError, errorMessage, formatError } from '../base/errors';

export interface CopilotSessionOptions {
  /** e.g. `xmpp://127.0.0.1:5222`; STARTTLS is used whenever the server offers it. */
  service: string;
  domain: string;
  username: string;
  password: string;
  resource?: string;
  logger?: Logger;
  /** First wait for an ack before the message is sent again (doubling, with jitter). */
  ackTimeoutMs?: number;
  /** Sends of one message before send() gives up. */
  maxSendAttempts?: number;
  reconnect?: BackoffOptions;
  /**
   * A login (start() or a reconnect) not online after this long is given up: start() rejects, a
   * reconnect is tried again later. Default 30 s.
   */
  loginTimeoutMs?: number;
  maxStanzaChars?: number;
  /** Presence priority; must be >= 0 to receive messages sent to the bare JID. */
  priority?: number;
  layers?: MessageLayer[];
  /** STARTTLS options (private CA, refuse plain); without it xmpp.js's own STARTTLS is used. */
  tls?: SessionTlsOptions;
  /** Commands of one sender handled at once; more are dropped unacked (not noack ones). Default 256. */
  maxHandlingPerSender?: number;
  /**
   * Which form of the message layer goes to whom (src/protocol/wire-format.ts): by default each
   * peer gets the form it sent, and a peer not heard from yet gets both forms.
   */
  wireFormat?: WireFormatOptions;
}

export interface SendOptions {
  noack?: boolean;
  type?: MessageType;
  /**
   * Reuse an id, e.g. when a caller resends a message it persisted before a restart. While a
   * message with this id is still waiting for its ack, send() returns that message's outcome.
   */
  id?: string;
}

export type CommandHandler = (message: CommandMessage) => void | Promise<void>;

/**
 * A transformation of commands on their way out and in, e.g. secure mode's encryption. Layers
 * run in order on the way out and in reverse order on the way in. `incoming` throws a
 * ProtocolError to reject a message (tampered, replayed, wrong key); the session logs it and
 * does not dispatch it.
 */
export interface MessageLayer {
  outgoing(to: string, id: string, command: Command): Command;
  incoming(from: string, to: string, id: string, command: Command): Command;
}

export type SessionEvents = {
  online: [jid: string];
  offline: [];
  error: [error: Error];
  'protocol-error': [error: ProtocolError, from: string];
  bounce: [message: BounceMessage];
  acked: [id: string, from: string];
  /** Every <presence> received, e.g. MUC occupants joining and leaving the Heartbeat room. */
  presence: [stanza: Element];
};

/** The server refused our credentials: retrying soon will not help, the volunteer must act. */
export class XmppAuthError extends CopilotError {
  declare readonly code: 'XMPP_AUTH_REFUSED';

  /** `account` is the bare JID that was refused. */
  constructor(account: string) {
    super('XMPP_AUTH_REFUSED', formatError('XMPP_AUTH_REFUSED', account));
    this.name = 'XmppAuthError';
  }
}

/**
 * The first login did not complete: the server is unreachable, cut the connection, or did not
 * answer in time. The message says which and during what step (an expected condition: callers
 * retry, or a daemon exits with this one line and its service manager starts it again).
 */
export class XmppConnectError extends CopilotError {
  declare readonly code: 'XMPP_CONNECT_FAILED';

  constructor(message: string, options?: { cause?: unknown }) {
    super('XMPP_CONNECT_FAILED', formatError('XMPP_CONNECT_FAILED', message), options);
    this.name = 'XmppConnectError';
  }
}

/** Why a send() failed: nobody acknowledged, or the session was stopped first. */
export class SendError extends Error {
  constructor(
    message: string,
    readonly reason: 'unacknowledged' | 'stopped',
  ) {
    super(message);
    this.name = 'SendError';
  }
}

interface PendingSend {
  id: string;
  to: string;
  stanza: Element;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (id: string) => void;
  reject: (error: Error) => void;
  /** What every send() of this id returns. */
  settled: Promise<string>;
}

/** The presence that enters a MUC room as `nick`, asking for no history; `status` is shown. */
export function mucJoinPresence(roomJid: string, nick: string, status?: string): Element {
  return xml(
    'presence',
    { to: `${roomJid}/${nick}` },
    xml('x', { xmlns: 'http://jabber.org/protocol/muc' }, xml('history', { maxchars: '0' })),
    status === undefined ? undefined : xml('status', {}, status),
  );
}

const DEFAULT_MAX_HANDLING_PER_SENDER = 256;
const DEFAULT_RECONNECT: BackoffOptions = { initialMs: 500, maxMs: 30_000, jitter: 0.5 };
const DEFAULT_LOGIN_TIMEOUT_MS = 30_000;

/** The connection went away before the login completed (its phase says when). */
class LoginInterrupted extends Error {
  constructor(readonly reason: 'closed' | 'timeout') {
    super(reason === 'closed' ? 'the connection was closed' : 'no answer in time');
    this.name = 'LoginInterrupted';
  }
}

/**
 * One XMPP connection speaking the Co-Pilot protocol: every command is acknowledged unless it
 * carries noack, unacknowledged sends are repeated with back-off, duplicates (same sender, same
 * id) are acknowledged again but handled once, and the connection comes back by itself.
 */
export class CopilotSession {
  readonly events = new TypedEmitter<SessionEvents>();
  private readonly options: CopilotSessionOptions;
  private readonly logger: Logger;
  private readonly handlers: CommandHandler[] = [];
  private readonly pending = new Map<string, PendingSend>();
  private readonly seen = new SeenIds(20_000);
  /** Commands whose handlers are still running, by `<from>|<id>`. */
  private readonly handling = new Map<string, Promise<boolean>>();
  /** How many commands of each sender are being handled. */
  private readonly busyBySender = new Map<string, number>();
  private readonly rooms = new Map<string, Element>();
  private readonly wire: PeerWireForms;
  /** start() calls waiting for the first 'online' (or stop()). */
  private startWaiters: Array<() => void> = [];
  private xmpp: Client | undefined;
  private online = false;
  private stopping = false;
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Gives up a reconnect's login that is not online in time. */
  private loginTimer: NodeJS.Timeout | undefined;
  private mechanism: string | undefined;
  private fullJid = '';

  constructor(options: CopilotSessionOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.wire = new PeerWireForms(options.wireFormat);
  }

  get jid(): string {
    return this.fullJid;
  }

  get bareJid(): string {
    return `${this.options.username}@${this.options.domain}`;
  }

  get isOnline(): boolean {
    return this.online;
  }

  /** The SASL mechanism the server accepted, e.g. SCRAM-SHA-1. */
  get saslMechanism(): string | undefined {
    return this.mechanism;
  }

  /** The TLS socket under the stream while connected with TLS, else undefined. */
  get tlsSocket(): TLSSocket | undefined {
    return this.xmpp ? tlsSocketOf(this.xmpp) : undefined;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Adds a handler for every accepted command; the returned function removes it again. */
  onCommand(handler: CommandHandler): () => void {
    this.handlers.push(handler);
    return () => {
      const index = this.handlers.indexOf(handler);
      if (index !== -1) this.handlers.splice(index, 1);
    };
  }

  /**
   * Connects and resolves once online. Rejects when this first login fails: an XmppAuthError
   * for bad credentials, else an XmppConnectError saying what happened and during which step
   * (the server cut the connection during SASL authentication, did not answer in time...).
   * Nothing is retried behind a rejection; once online, a lost connection comes back by itself.
   */
  async start(): Promise<void> {
    this.stopping = false;
    const xmpp = this.createClient();
    this.xmpp = xmpp;
    const phase = trackLoginPhase(xmpp);
    const login = watchLogin(this.options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS);
    // Every Co-Pilot exchange is a small request and a small reply: Nagle's algorithm would hold
    // each one back for the peer's delayed ack (about 40 ms a hop), which dominates latency.
    xmpp.on('connect', () => xmpp.socket?.setNoDelay?.(true));
    xmpp.on('stanza', (stanza) => this.onStanza(stanza));
    // Nothing of ours goes out before the server has answered XEP-0198's <enable/>.
    const gate = streamManagementGate(xmpp);
    xmpp.on('online', (address) => {
      gate.whenSettled(() => {
        if (this.xmpp === xmpp && xmpp.status === 'online') this.onOnline(address.toString());
      });
    });
    xmpp.on('offline', () => this.onOffline());
    xmpp.on('disconnect', () => {
      // A resumed stream (XEP-0198) comes back without an 'online' event, so this session would
      // stay offline; it resends unacknowledged commands itself, so every reconnect is fresh.
      if (xmpp.streamManagement) forgetStream(xmpp.streamManagement);
      if (login.active) login.fail(new LoginInterrupted('closed'));
      else this.onDisconnect();
    });
    xmpp.on('error', (error) => this.onConnectionError(xmpp, error, login));
    try {
      await Promise.race([this.login(xmpp), login.lost]);
    } catch (error) {
      const failedDuring = phase.current();
      login.end();
      if (this.xmpp === xmpp) this.xmpp = undefined;
      clearTimeout(this.reconnectTimer);
      await abortConnection(xmpp);
      // stop() during start(): start() resolves, as it does when stop() releases its wait.
      if (this.stopping) return;
      throw describeConnectError(error, this.options, failedDuring);
    }
    login.end();
  }

  private createClient(): Client {
    const xmpp = createClient({
      service: this.options.service,
      domain: this.options.domain,
      resource: this.options.resource,
      credentials: async (authenticate, mechanisms) => {
        const preferred = mechanisms.find((name) => name.startsWith('SCRAM-')) ?? mechanisms[0];
        if (preferred === undefined) throw new Error('the server offers no SASL mechanism');
        this.mechanism = preferred;
        await (
          authenticate as unknown as (
            credentials: { username: string; password: string },
            mechanism: string,
          ) => Promise<void>
        )({ username: this.options.username, password: this.options.password }, preferred);
      },
    });
    // Our own reconnect below has back-off with jitter; the built-in one retries every second.
    xmpp.reconnect.stop();
    // Late bytes and writes on a connection xmpp.js has given up must not end the process.
    guardClosedStream(xmpp);
    if (this.options.tls) installStartTls(xmpp, this.options.domain, this.options.tls);
    return xmpp;
  }

  /** xmpp.js online, then stream management settled (or stop() called). */
  private async login(xmpp: Client): Promise<void> {
    await xmpp.start();
    if (!this.online && !this.stopping) {
      await new Promise<void>((resolve) => this.startWaiters.push(resolve));
    }
  }

  private onConnectionError(xmpp: Client, error: Error, login: LoginWatch): void {
    this.logger.warn('XMPP connection error', { error: error.message || error.name });
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error);
    if (login.active) {
      login.fail(error);
      return;
    }
    // A reconnect's login that failed (SASL, STARTTLS, a timeout) leaves the socket open with
    // nothing more to happen on it: drop it, and the disconnect schedules the next attempt.
    if (this.xmpp === xmpp && !this.online && !this.stopping && LOGGING_IN.has(xmpp.status)) {
      destroySocket(xmpp);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.loginTimer);
    this.releaseStartWaiters();
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(
        new SendError(`session stopped before ${pending.id} was acknowledged`, 'stopped'),
      );
    }
    this.pending.clear();
    const xmpp = this.xmpp;
    this.xmpp = undefined;
    this.online = false;
    if (xmpp) await xmpp.stop().catch(() => undefined);
  }

  /**
   * Sends a command. Resolves with the message id once acknowledged (at once for noack), and
   * rejects with a SendError when no ack came after every attempt.
   */
  send(to: string, command: Command, options: SendOptions = {}): Promise<string> {
    const id = options.id ?? newMessageId();
    const already = options.noack ? undefined : this.pending.get(id);
    if (already) return already.settled;
    let wireCommand = command;
    for (const layer of this.options.layers ?? [])
      wireCommand = layer.outgoing(to, id, wireCommand);
    const message: CommandMessage = {
      kind: 'command',
      to,
      from: this.fullJid,
      id,
      noack: options.noack ?? false,
      command: wireCommand,
    };
    if (options.type) message.type = options.type;
    const stanza = encodeMessage(message, this.wire.commandForm(to));
    if (message.noack) {
      this.transmit(stanza);
      return Promise.resolve(id);
    }
    if (this.stopping) {
      return Promise.reject(new SendError(`session stopped before ${id} was sent`, 'stopped'));
    }
    let resolve: (id: string) => void = () => undefined;
    let reject: (error: Error) => void = () => undefined;
    const settled = new Promise<string>((resolveSend, rejectSend) => {
      resolve = resolveSend;
      reject = rejectSend;
    });
    const pending: PendingSend = {
      id,
      to,
      stanza,
      attempts: 0,
      timer: undefined,
      resolve,
      reject,
      settled,
    };
    this.pending.set(id, pending);
    this.attempt(pending);
    return settled;
  }

  /** Sends a raw stanza (presence, MUC) now if online; it is dropped when offline. */
  sendStanza(stanza: Element): void {
    this.transmit(stanza);
  }

  /**
   * Sends an IQ (`get` or `set`, with `payload` as its child) and resolves with the result
   * stanza; rejects with the server's error (its `condition`, e.g. `forbidden`), after
   * timeoutMs, or at once when offline. Used for room queries (muc#admin, disco#items).
   */
  async iqRequest(
    to: string,
    type: 'get' | 'set',
    payload: Element,
    timeoutMs = 10_000,
  ): Promise<Element> {
    if (!this.online || !this.xmpp) throw new Error(`offline: no IQ sent to ${to}`);
    return this.xmpp.iqCaller.request(xml('iq', { to, type }, payload), timeoutMs);
  }

  /** Joins a MUC room (e.g. the Heartbeat room) and rejoins it after every reconnect. */
  joinRoom(roomJid: string, nick: string): void {
    const presence = mucJoinPresence(roomJid, nick);
    this.rooms.set(roomJid, presence);
    this.transmit(presence);
  }

  leaveRoom(roomJid: string): void {
    const presence = this.rooms.get(roomJid);
    this.rooms.delete(roomJid);
    if (presence) this.transmit(xml('presence', { to: presence.attrs.to, type: 'unavailable' }));
  }

  private transmit(stanza: Element): boolean {
    if (!this.online || !this.xmpp) return false;
    this.xmpp.send(stanza).catch((error: unknown) => {
      this.logger.debug('send failed', {
        error: errorMessage(error),
      });
    });
    return true;
  }

  private attempt(pending: PendingSend): void {
    const maxAttempts = this.options.maxSendAttempts ?? 6;
    if (pending.attempts >= maxAttempts) {
      this.pending.delete(pending.id);
      pending.reject(
        new SendError(
          `no acknowledgement from ${pending.to} after ${maxAttempts} attempts`,
          'unacknowledged',
        ),
      );
      return;
    }
    // While offline the message waits, with no timer; onOnline() sends everything that is pending.
    if (!this.transmit(pending.stanza)) {
      pending.timer = undefined;
      return;
    }
    pending.attempts += 1;
    if (pending.attempts > 1) this.logger.debug('resending', { id: pending.id, to: pending.to });
    const delay = backoffDelay(pending.attempts - 1, {
      initialMs: this.options.ackTimeoutMs ?? 3000,
      maxMs: 60_000,
      jitter: 0.2,
    });
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => this.attempt(pending), delay);
  }

  private onOnline(address: string): void {
    clearTimeout(this.loginTimer);
    this.fullJid = address;
    this.online = true;
    this.reconnectAttempt = 0;
    this.transmit(xml('presence', {}, xml('priority', {}, String(this.options.priority ?? 0))));
    for (const presence of this.rooms.values()) this.transmit(presence);
    for (const pending of this.pending.values()) {
      pending.stanza.attrs.from = address;
      if (pending.timer === undefined) this.attempt(pending);
    }
    this.logger.info('online', { jid: address });
    this.events.emit('online', address);
    this.releaseStartWaiters();
  }

  private releaseStartWaiters(): void {
    const waiters = this.startWaiters;
    this.startWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private onOffline(): void {
    this.online = false;
    this.events.emit('offline');
  }

  private onDisconnect(): void {
    const wasOnline = this.online;
    this.online = false;
    if (wasOnline) this.events.emit('offline');
    if (this.stopping || !this.xmpp) return;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.timer = undefined;
    }
    const delay = backoffDelay(this.reconnectAttempt, this.options.reconnect ?? DEFAULT_RECONNECT);
    this.reconnectAttempt += 1;
    this.logger.info('disconnected; reconnecting', { inMs: delay, attempt: this.reconnectAttempt });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    const xmpp = this.xmpp;
    if (this.stopping || !xmpp || xmpp.status !== 'disconnect') return;
    const attempt = this.reconnectAttempt;
    // A server that stops answering halfway through the login (no xmpp.js timeout covers SASL)
    // would leave the session waiting for good: give the attempt up, the next one follows.
    clearTimeout(this.loginTimer);
    this.loginTimer = setTimeout(() => {
      if (this.xmpp === xmpp && !this.online && LOGGING_IN.has(xmpp.status)) {
        this.logger.info('login not complete in time; dropping the connection');
        destroySocket(xmpp);
      }
    }, this.options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS);
    try {
      await xmpp.reconnect.reconnect();
    } catch (error) {
      this.logger.debug('reconnect failed', {
        error: errorMessage(error),
      });
      // A failed connect attempt emits no 'disconnect' of its own every time; make sure we retry,
      // but only once: when it did emit one, onDisconnect() has scheduled the retry already.
      const handled = this.reconnectAttempt !== attempt;
      if (!handled && !this.online && this.xmpp === xmpp && xmpp.status === 'disconnect') {
        this.onDisconnect();
      }
    }
  }

  private onStanza(stanza: Element): void {
    if (stanza.name === 'presence') {
      this.events.emit('presence', stanza);
      return;
    }
    if (stanza.name !== 'message') return;
    let message;
    try {
      message = decodeStanza(stanza, { maxStanzaChars: this.options.maxStanzaChars });
    } catch (error) {
      const from = stanza.attrs.from ?? '';
      if (!isProtocolError(error)) {
        // Never thrown out of xmpp.js's stanza event: that would end the process.
        this.logger.error('stanza could not be decoded', { from, error: errorMessage(error) });
        return;
      }
      // Room subjects and chatter in the Heartbeat room are not ours to complain about.
      const level = stanza.attrs.type === 'groupchat' ? 'debug' : 'warn';
      this.logger[level]('rejected stanza', { from, code: error.code, reason: error.message });
      this.events.emit('protocol-error', error, from);
      if (RECEIVED_BUT_UNUSABLE.has(error.code)) this.acknowledgeStanza(stanza);
      return;
    }
    if (message.kind !== 'bounce') {
      this.wire.learn(message.from, message.form ?? 'report', message.type);
    }
    switch (message.kind) {
      case 'ack':
        this.onAck(message.ackedId, message.from);
        return;
      case 'bounce':
        this.events.emit('bounce', message);
        return;
      case 'command':
        this.onCommandMessage(message);
    }
  }

  private onAck(id: string, from: string): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(id);
    pending.resolve(id);
    this.events.emit('acked', id, from);
  }

  private unwrapLayers(message: CommandMessage): CommandMessage | undefined {
    let command = message.command;
    const layers = this.options.layers ?? [];
    try {
      for (let index = layers.length - 1; index >= 0; index -= 1) {
        command = (layers[index] as MessageLayer).incoming(
          message.from,
          message.to,
          message.id,
          command,
        );
      }
    } catch (error) {
      if (!isProtocolError(error)) {
        // A layer's bug must not end the process from xmpp.js's stanza event: drop the message.
        this.logger.error('message layer failed; message dropped', {
          from: message.from,
          error: errorMessage(error),
        });
        return undefined;
      }
      this.logger.warn('rejected message', {
        from: message.from,
        code: error.code,
        reason: error.message,
      });
      this.events.emit('protocol-error', error, message.from);
      return undefined;
    }
    return command === message.command ? message : { ...message, command };
  }

  private acknowledge(message: CommandMessage): void {
    if (message.noack || !message.id) return;
    const ack: ProtocolMessage = {
      kind: 'ack',
      to: message.from,
      from: this.fullJid,
      ackedId: message.id,
    };
    // A MUC room relays private messages between occupants only as type='chat'.
    if (message.type === 'chat') ack.type = 'chat';
    this.transmit(encodeMessage(ack, this.wire.ackForm(message.form)));
  }

  /** Acks a message we received intact but cannot use (2.1: every message is acknowledged). */
  private acknowledgeStanza(stanza: Element): void {
    const { id, from, type } = stanza.attrs;
    if (!id || !from || type === 'groupchat' || isNoack(stanza)) return;
    const ack: ProtocolMessage = { kind: 'ack', to: from, from: this.fullJid, ackedId: id };
    if (type === 'chat') ack.type = 'chat';
    this.transmit(encodeMessage(ack, this.wire.ackForm(receivedForm(stanza))));
  }

  /**
   * A command is acknowledged once every handler has finished with it, so an ack means "taken
   * care of" (a jobDone acked is a result recorded). A handler that throws leaves the message
   * unacknowledged and forgotten: the sender's resend is handled again. A resend that arrives
   * while the first copy is still being handled waits for that outcome.
   */
  private onCommandMessage(message: CommandMessage): void {
    const seenKey = `${message.from}|${message.id}`;
    if (message.id) {
      const running = this.handling.get(seenKey);
      if (running || this.seen.has(seenKey)) {
        this.logger.debug('duplicate dropped', { id: message.id, from: message.from });
        if (running) void running.then((handled) => handled && this.acknowledge(message));
        else this.acknowledge(message);
        return;
      }
    }
    // One sender cannot keep more than so many commands in the works at once (each may hold a
    // reply waiting for its ack): the rest are dropped unacked, and a real peer resends them.
    // noack messages are never resent, so they are not dropped. A sender is an account (more
    // resources do not buy more), except a MUC occupant (type chat), who is its room nick.
    const sender = message.type === 'chat' ? message.from : accountOf(message.from);
    const busy = this.busyBySender.get(sender) ?? 0;
    const limit = this.options.maxHandlingPerSender ?? DEFAULT_MAX_HANDLING_PER_SENDER;
    if (!message.noack && busy >= limit) {
      this.logger.debug('sender has too many commands in the works; dropped unacked', {
        from: message.from,
      });
      return;
    }
    // A message the layers reject (tampered, replayed, plain in secure mode) is neither
    // acknowledged nor remembered: the sender resends it, and an intact copy is still accepted.
    const plain = this.unwrapLayers(message);
    if (!plain) return;
    this.busyBySender.set(sender, busy + 1);
    const handled = this.runHandlers(plain).finally(() => {
      const left = (this.busyBySender.get(sender) ?? 1) - 1;
      if (left > 0) this.busyBySender.set(sender, left);
      else this.busyBySender.delete(sender);
    });
    if (!message.id) return;
    this.handling.set(seenKey, handled);
    void handled.then((ok) => {
      this.handling.delete(seenKey);
      if (!ok) return;
      this.seen.remember(seenKey);
      this.acknowledge(message);
    });
  }

  /** Runs every handler; true when none of them failed. */
  private async runHandlers(message: CommandMessage): Promise<boolean> {
    const outcomes = await Promise.allSettled(
      this.handlers.map((handler) => Promise.resolve().then(() => handler(message))),
    );
    let ok = true;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') continue;
      ok = false;
      this.logger.error('command handler failed; not acknowledged', {
        command: message.command.command,
        from: message.from,
        error: errorMessage(outcome.reason),
      });
    }
    return ok;
  }
}

/**
 * Decoding errors of a message that arrived whole, from a peer that will resend it until it is
 * acked: an unknown command, or attributes we cannot use. Acking stops the resends.
 */
const RECEIVED_BUT_UNUSABLE: ReadonlySet<ProtocolErrorCode> = new Set<ProtocolErrorCode>([
  'unknown-command',
  'missing-attribute',
  'invalid-attribute',
  'bad-base64',
]);

/** xmpp.js statuses of a connection that is logging in (not online, not closing). */
const LOGGING_IN: ReadonlySet<string> = new Set(['connecting', 'connect', 'opening', 'open']);

/** The first login: fails once (closed, error, timeout) until it ends, online or given up. */
interface LoginWatch {
  /** Rejects with the first failure; never resolves. */
  readonly lost: Promise<never>;
  /** Until end(): the connection's events belong to start(), not to the reconnect logic. */
  readonly active: boolean;
  fail(error: Error): void;
  end(): void;
}

function watchLogin(timeoutMs: number): LoginWatch {
  let active = true;
  let reject: (error: Error) => void = () => undefined;
  const lost = new Promise<never>((_resolve, rejectLost) => {
    reject = rejectLost;
  });
  lost.catch(() => undefined);
  const timer = setTimeout(() => reject(new LoginInterrupted('timeout')), timeoutMs);
  return {
    lost,
    get active() {
      return active;
    },
    fail(error) {
      clearTimeout(timer);
      reject(error);
    },
    end() {
      active = false;
      clearTimeout(timer);
    },
  };
}

/** Why a first login failed, in words, with the step it failed in. */
function loginFailureReason(error: unknown, phase: string): string {
  if (error instanceof LoginInterrupted && error.reason === 'timeout') {
    return `the login did not complete in time (stuck in ${phase})`;
  }
  if (error instanceof LoginInterrupted || error instanceof ConnectionClosedError) {
    return `the server closed the connection during ${phase}`;
  }
  // xmpp.js's TimeoutError has no message: this is where "failed: " with nothing after it came from.
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `the server did not answer in time during ${phase}`;
  }
  const text = errorMessage(error);
  if (!text) {
    const name = error instanceof Error && error.name ? error.name : 'an unknown error';
    return `${name} during ${phase}`;
  }
  return `${text} (during ${phase})`;
}

function describeConnectError(
  error: unknown,
  options: CopilotSessionOptions,
  phase: string,
): Error {
  const text = errorMessage(error);
  const condition = (error as { condition?: string } | null)?.condition;
  if (condition === 'not-authorized' || /not-authorized/.test(text)) {
    return new XmppAuthError(`${options.username}@${options.domain}`);
  }
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH/.test(text)) {
    return new XmppConnectError(`cannot reach the XMPP server at ${options.service}: ${text}`, {
      cause: error,
    });
  }
  const reason = loginFailureReason(error, phase);
  return new XmppConnectError(`XMPP connection to ${options.service} failed: ${reason}`, {
    cause: error,
  });
}
