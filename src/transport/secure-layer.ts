/**
 * Secure mode (report 2.2.7) as CopilotSession message layers. The agent side chooses a session
 * key per manager, wraps it with the manager's RSA public key and sends it with every request;
 * the manager side unwraps it, caches it by key id and encrypts its replies under it. Every
 * command except the plain-allowed ones (Heartbeat and monitoring by default) must be a valid
 * secure envelope; anything else makes `incoming` throw a ProtocolError 'rejected-secure'.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import {
  accountOf,
  isSwitchOn,
  type Command,
  type CommandName,
  type SecureEnvelope,
} from '../protocol';
import {
  ReplayWindow,
  decodePayload,
  encodePayload,
  generateSessionKey,
  open,
  rejectSecure,
  seal,
  unwrapSessionKey,
  wrapSessionKey,
  type ReplayWindowOptions,
} from '../protocol/secure-channel';
import type { MessageLayer } from './copilot-session';
import { errorMessage } from '../base/errors';

/** Commands that may travel in clear even in secure mode: system introspection and monitoring. */
export const DEFAULT_PLAIN_COMMANDS: ReadonlySet<CommandName> = new Set<CommandName>([
  'Heartbeat:getStatus',
  'Heartbeat:ping',
  'haveStatus',
  'pong',
  'reportEvent',
  'reportEventDuration',
  'reportEventValue',
]);

export interface SecureLayerOptions {
  /** This side's JID (bare is enough), bound into every ciphertext as sender or recipient. */
  localJid: string;
  /** Commands allowed in clear in both directions; DEFAULT_PLAIN_COMMANDS when unset. */
  plainCommands?: ReadonlySet<CommandName>;
  replay?: ReplayWindowOptions;
  now?: () => number;
}

interface KeyState {
  keyId: string;
  key: Buffer;
  /** Bare JID of the other side. */
  peer: string;
  sequence: number;
  lastUsed: number;
}

/** What both sides share: sealing, opening, the replay window and the plain-command rule. */
abstract class SecureLayerBase implements MessageLayer {
  protected readonly localJid: string;
  protected readonly now: () => number;
  private readonly plainCommands: ReadonlySet<CommandName>;
  private readonly replay: ReplayWindow;

  constructor(options: SecureLayerOptions) {
    this.localJid = accountOf(options.localJid);
    this.now = options.now ?? Date.now;
    this.plainCommands = options.plainCommands ?? DEFAULT_PLAIN_COMMANDS;
    this.replay = new ReplayWindow({ now: this.now, ...options.replay });
  }

  outgoing(to: string, id: string, command: Command): Command {
    if (this.plainCommands.has(command.command)) return command;
    if (command.command === 'secure') return command;
    const state = this.keyForSending(to);
    state.sequence += 1;
    state.lastUsed = this.now();
    const plaintext = encodePayload({ command, timestamp: this.now(), sequence: state.sequence });
    const sealed = seal(state.key, { from: this.localJid, to, id, keyId: state.keyId }, plaintext);
    const envelope: SecureEnvelope = {
      command: 'secure',
      keyId: state.keyId,
      nonce: sealed.nonce,
      ciphertext: sealed.ciphertext,
    };
    const wrapped = this.wrappedKeyFor(state);
    if (wrapped !== undefined) envelope.sessionKey = wrapped;
    return envelope;
  }

  incoming(from: string, to: string, id: string, command: Command): Command {
    if (command.command !== 'secure') {
      if (this.plainCommands.has(command.command)) return command;
      rejectSecure(`plain '${command.command}' refused: secure mode is on`);
    }
    if (!id) rejectSecure('secure message without an id');
    const state = this.keyForReceiving(from, command);
    if (state.peer !== accountOf(from))
      rejectSecure(`key ${state.keyId} does not belong to ${from}`);
    const plaintext = open(
      state.key,
      { from, to, id, keyId: state.keyId },
      { nonce: command.nonce, ciphertext: command.ciphertext },
    );
    const payload = decodePayload(plaintext);
    this.replay.check(state.keyId, command.nonce, from, id, payload.timestamp);
    this.replay.accept(state.keyId, command.nonce, from, id);
    state.lastUsed = this.now();
    return payload.command;
  }

  protected abstract keyForSending(to: string): KeyState;
  protected abstract keyForReceiving(from: string, envelope: SecureEnvelope): KeyState;
  protected abstract wrappedKeyFor(state: KeyState): string | undefined;
}

export interface AgentSecureLayerOptions extends SecureLayerOptions {
  /** The job manager's RSA public key (PEM or KeyObject). */
  managerPublicKey: KeyObject | string;
}

/** Agent side: one session key per manager, sent wrapped with every request. */
export class AgentSecureLayer extends SecureLayerBase {
  private readonly publicKey: KeyObject;
  private readonly byPeer = new Map<string, KeyState & { wrapped: string }>();
  private readonly byKeyId = new Map<string, KeyState>();

  constructor(options: AgentSecureLayerOptions) {
    super(options);
    this.publicKey =
      typeof options.managerPublicKey === 'string'
        ? crypto.createPublicKey(options.managerPublicKey)
        : options.managerPublicKey;
  }

  protected keyForSending(to: string): KeyState {
    const peer = accountOf(to);
    let state = this.byPeer.get(peer);
    if (!state) {
      const { keyId, key } = generateSessionKey();
      const wrapped = wrapSessionKey(key, this.publicKey, this.localJid);
      state = { keyId, key, peer, sequence: 0, lastUsed: this.now(), wrapped };
      this.byPeer.set(peer, state);
      this.byKeyId.set(keyId, state);
    }
    return state;
  }

  protected keyForReceiving(from: string, envelope: SecureEnvelope): KeyState {
    if (envelope.sessionKey !== undefined) rejectSecure('a reply must not carry a session key');
    const state = this.byKeyId.get(envelope.keyId);
    if (!state) rejectSecure(`unknown key id from ${from}`);
    return state;
  }

  protected wrappedKeyFor(state: KeyState): string | undefined {
    return this.byPeer.get(state.peer)?.wrapped;
  }
}

export interface ManagerSecureLayerOptions extends SecureLayerOptions {
  /** The job manager's RSA private key (PEM or KeyObject). */
  privateKey: KeyObject | string;
  /** Session keys kept. Default 10 000; the least recently used go first. */
  maxKeys?: number;
  /** A key unused this long is forgotten. Default 1 hour. */
  keyIdleMs?: number;
}

/** Manager side: unwraps agents' session keys, caches them, and replies under them. */
export class ManagerSecureLayer extends SecureLayerBase {
  private readonly privateKey: KeyObject;
  private readonly maxKeys: number;
  private readonly keyIdleMs: number;
  private readonly byKeyId = new Map<string, KeyState & { wrapped: string }>();
  /** The key each agent used last: replies go under it. */
  private readonly latestByPeer = new Map<string, string>();

  constructor(options: ManagerSecureLayerOptions) {
    super(options);
    this.privateKey =
      typeof options.privateKey === 'string'
        ? crypto.createPrivateKey(options.privateKey)
        : options.privateKey;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.keyIdleMs = options.keyIdleMs ?? 60 * 60_000;
  }

  get cachedKeys(): number {
    return this.byKeyId.size;
  }

  /** Agents whose latest key is cached; never more than cachedKeys. */
  get cachedPeers(): number {
    return this.latestByPeer.size;
  }

  override incoming(from: string, to: string, id: string, command: Command): Command {
    const plain = super.incoming(from, to, id, command);
    if (command.command === 'secure') this.latestByPeer.set(accountOf(from), command.keyId);
    return plain;
  }

  protected keyForSending(to: string): KeyState {
    const keyId = this.latestByPeer.get(accountOf(to));
    const state = keyId === undefined ? undefined : this.liveKey(keyId);
    if (!state) {
      rejectSecure(`no session key from ${accountOf(to)}: in secure mode the manager only replies`);
    }
    return state;
  }

  protected keyForReceiving(from: string, envelope: SecureEnvelope): KeyState {
    const cached = this.liveKey(envelope.keyId);
    if (cached && (envelope.sessionKey === undefined || envelope.sessionKey === cached.wrapped)) {
      return cached;
    }
    if (envelope.sessionKey === undefined) rejectSecure(`unknown or expired key id from ${from}`);
    // A new key, or a known key id with another wrapping: either way the wrapped key must be the
    // one the id names (the id is its hash).
    const { keyId, key } = unwrapSessionKey(envelope.sessionKey, this.privateKey, from);
    if (keyId !== envelope.keyId) rejectSecure('session key does not match its key id');
    if (cached) return cached;
    const state = {
      keyId,
      key,
      peer: accountOf(from),
      sequence: 0,
      lastUsed: this.now(),
      wrapped: envelope.sessionKey,
    };
    this.byKeyId.set(keyId, state);
    this.evict();
    return state;
  }

  protected wrappedKeyFor(): string | undefined {
    return undefined;
  }

  private liveKey(keyId: string): (KeyState & { wrapped: string }) | undefined {
    const state = this.byKeyId.get(keyId);
    if (!state) return undefined;
    if (state.lastUsed < this.now() - this.keyIdleMs) {
      this.forget(keyId, state);
      return undefined;
    }
    // Map order is the eviction order: move to the end when used.
    this.byKeyId.delete(keyId);
    this.byKeyId.set(keyId, state);
    return state;
  }

  private evict(): void {
    for (const [keyId, state] of this.byKeyId) {
      const idle = state.lastUsed < this.now() - this.keyIdleMs;
      if (!idle && this.byKeyId.size <= this.maxKeys) break;
      this.forget(keyId, state);
    }
  }

  /** Drops a key, and its agent's entry when it was that agent's latest, so both stay bounded. */
  private forget(keyId: string, state: KeyState): void {
    this.byKeyId.delete(keyId);
    if (this.latestByPeer.get(state.peer) === keyId) this.latestByPeer.delete(state.peer);
  }
}

function readKeyFile(variable: string, file: string | undefined): string {
  if (!file) throw new Error(`${variable} must name a PEM key file when secure mode is on`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    const reason = errorMessage(error);
    throw new Error(`${variable} ${file} cannot be read: ${reason}`);
  }
}

type ConfigLookup = (name: string) => string | undefined;

/** Manager: `JM_SECURE_MODE 1` and `JM_PRIVATE_KEY /path/to/jm-private.pem`. */
export function managerSecureLayers(config: ConfigLookup, localJid: string): MessageLayer[] {
  if (!isSwitchOn(config('JM_SECURE_MODE'))) return [];
  const pem = readKeyFile('JM_PRIVATE_KEY', config('JM_PRIVATE_KEY'));
  return [new ManagerSecureLayer({ localJid, privateKey: pem })];
}
