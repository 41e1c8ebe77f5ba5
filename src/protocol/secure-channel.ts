/**
 * Secure mode's cryptography (report 2.2.7, hardened): a 256-bit session key chosen by the agent,
 * wrapped for the manager with RSA-OAEP (SHA-256), and AES-256-GCM per message with a fresh
 * 96-bit nonce. The associated data binds the bare sender and recipient JIDs, the message id and
 * the key id, so a ciphertext moved to another message, sender or recipient fails to open. The
 * plaintext carries a timestamp and a sequence number; ReplayWindow rejects repeats and stale
 * messages. Pure functions and one bounded data structure: no I/O, no XMPP.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { parse as parseXml } from 'ltx';
import type { Command } from './commands';
import { commandFromInfo, commandToInfo } from './command-codec';
import { strictBase64Bytes } from './base64-attribute';
import { childNamed, infoNodeFromElement, infoNodeToElement } from './info-node';
import { accountOf } from './jid';
import { ProtocolError } from './protocol-error';

export const SESSION_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const AAD_CONTEXT = 'copilot-secure-v1';
const KEY_ID_CONTEXT = 'copilot-secure-v1 key id';
const PAYLOAD_ELEMENT = 'payload';

/** Refuses a message in secure mode: a ProtocolError 'rejected-secure'. */
export function rejectSecure(message: string): never {
  throw new ProtocolError('rejected-secure', message);
}

// The account (accountOf: bare JID, lower-cased), not the full JID, is bound: a reconnect may
// give the sender a new resource, and the session resends a pending stanza with its new full JID
// but the ciphertext made for the old one.

/** What a ciphertext is bound to. */
export interface MessageBinding {
  from: string;
  to: string;
  id: string;
  keyId: string;
}

/** Length-prefixed fields, so no two different bindings give the same bytes. */
export function associatedData(binding: MessageBinding): Buffer {
  const fields = [
    AAD_CONTEXT,
    accountOf(binding.from),
    accountOf(binding.to),
    binding.id,
    binding.keyId,
  ];
  return Buffer.concat(
    fields.flatMap((field) => {
      const bytes = Buffer.from(field, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return [length, bytes];
    }),
  );
}

export interface SessionKey {
  /** Derived from the key (a hash, 128 bits, hex), so a key id can never name another key. */
  keyId: string;
  key: Buffer;
}

export function keyIdOf(key: Buffer): string {
  return crypto.createHash('sha256').update(KEY_ID_CONTEXT).update(key).digest('hex').slice(0, 32);
}

export function generateSessionKey(): SessionKey {
  const key = crypto.randomBytes(SESSION_KEY_BYTES);
  return { keyId: keyIdOf(key), key };
}

function oaepLabel(agentJid: string): Buffer {
  return Buffer.from(`${AAD_CONTEXT} ${accountOf(agentJid)}`, 'utf8');
}

/**
 * RSA-OAEP (SHA-256) wrap of the session key for the manager. The OAEP label names the agent's
 * bare JID, so a wrapped key replayed by another account does not unwrap. Returns base64.
 */
export function wrapSessionKey(
  key: Buffer,
  managerPublicKey: KeyObject | string,
  agentJid: string,
): string {
  return crypto
    .publicEncrypt(
      {
        key: managerPublicKey,
        padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
        oaepLabel: oaepLabel(agentJid),
      },
      key,
    )
    .toString('base64');
}

export function unwrapSessionKey(
  wrapped: string,
  managerPrivateKey: KeyObject | string,
  agentJid: string,
): SessionKey {
  let key: Buffer;
  try {
    key = crypto.privateDecrypt(
      {
        key: managerPrivateKey,
        padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
        oaepLabel: oaepLabel(agentJid),
      },
      Buffer.from(wrapped, 'base64'),
    );
  } catch {
    rejectSecure(
      'session key does not unwrap with this manager key (wrong key or not for this sender)',
    );
  }
  if (key.length !== SESSION_KEY_BYTES)
    rejectSecure(`session key is not ${SESSION_KEY_BYTES} bytes`);
  return { keyId: keyIdOf(key), key };
}

export interface SealedData {
  /** base64 of the 12-byte nonce. */
  nonce: string;
  /** base64 of ciphertext followed by the 16-byte GCM tag. */
  ciphertext: string;
}

export function seal(key: Buffer, binding: MessageBinding, plaintext: Buffer): SealedData {
  const nonce = crypto.randomBytes(NONCE_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(binding));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString('base64'), ciphertext: body.toString('base64') };
}

function strictBase64(value: string, what: string): Buffer {
  return strictBase64Bytes(value) ?? rejectSecure(`${what} is not base64`);
}

/** Decrypts and authenticates; any change to key, nonce, ciphertext or binding rejects. */
export function open(key: Buffer, binding: MessageBinding, sealed: SealedData): Buffer {
  const nonce = strictBase64(sealed.nonce, 'nonce');
  if (nonce.length !== NONCE_BYTES) rejectSecure(`nonce is not ${NONCE_BYTES} bytes`);
  const body = strictBase64(sealed.ciphertext, 'ciphertext');
  if (body.length < TAG_BYTES) rejectSecure('ciphertext shorter than its tag');
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce, {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(associatedData(binding));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(body.subarray(0, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return rejectSecure('message does not authenticate (tampered, moved, or another key)');
  }
}

/** The plaintext: the real command's <info>, inside an element with a timestamp and sequence. */
export interface SecurePayload {
  command: Command;
  /** Sender's clock, ms since the epoch. */
  timestamp: number;
  /** Per-key counter of the sender; informational (resends and reordering are legitimate). */
  sequence: number;
}

export function encodePayload(payload: SecurePayload): Buffer {
  const element = infoNodeToElement({
    name: PAYLOAD_ELEMENT,
    attributes: { ts: String(payload.timestamp), seq: String(payload.sequence) },
    children: [commandToInfo(payload.command)],
  });
  return Buffer.from(element.toString(), 'utf8');
}

export function decodePayload(plaintext: Buffer): SecurePayload {
  let element: ReturnType<typeof parseXml>;
  try {
    element = parseXml(plaintext.toString('utf8'));
  } catch {
    // Anyone can make a session key with the public key, so a well-sealed payload may be junk;
    // ltx's own Error would escape the session's ProtocolError handling and end the process.
    rejectSecure('decrypted payload is not well-formed XML');
  }
  if (!element || element.name !== PAYLOAD_ELEMENT)
    rejectSecure('decrypted payload is not <payload>');
  const node = infoNodeFromElement(element);
  const timestamp = Number(node.attributes.ts);
  const sequence = Number(node.attributes.seq);
  if (!Number.isSafeInteger(timestamp) || !Number.isSafeInteger(sequence)) {
    rejectSecure('decrypted payload has no valid ts/seq');
  }
  const info = childNamed(node, 'info');
  if (!info) rejectSecure('decrypted payload has no <info>');
  const command = commandFromInfo(info);
  if (command.command === 'secure') rejectSecure('nested secure envelope');
  return { command, timestamp, sequence };
}

export interface ReplayWindowOptions {
  /** Entries kept; the oldest go first. Default 100 000. */
  capacity?: number;
  /** Messages whose timestamp is older than this are refused. Default 10 minutes. */
  maxAgeMs?: number;
  /** Messages this far in the sender's future are refused (clock skew). Default 2 minutes. */
  maxFutureMs?: number;
  now?: () => number;
}

/**
 * Remembers accepted (key id, nonce) pairs and (sender, message id) pairs. Entries older than
 * maxAgeMs are forgotten first, since the timestamp check already refuses such messages; when
 * more than `capacity` fresh entries exist the oldest are dropped (documented in SECURITY.md).
 */
export class ReplayWindow {
  private readonly entries = new Map<string, number>();
  private readonly capacity: number;
  private readonly maxAgeMs: number;
  private readonly maxFutureMs: number;
  private readonly now: () => number;

  constructor(options: ReplayWindowOptions = {}) {
    this.capacity = options.capacity ?? 100_000;
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.maxFutureMs = options.maxFutureMs ?? 2 * 60_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Throws a ProtocolError if the message is a replay or out of the time window. */
  check(keyId: string, nonce: string, sender: string, id: string, timestamp: number): void {
    const now = this.now();
    if (timestamp < now - this.maxAgeMs) rejectSecure(`message is too old (${now - timestamp} ms)`);
    if (timestamp > now + this.maxFutureMs) rejectSecure('message timestamp is in the future');
    if (this.entries.has(`n|${keyId}|${nonce}`)) rejectSecure('replayed nonce for this key');
    if (this.entries.has(`i|${accountOf(sender)}|${id}`))
      rejectSecure(`message id ${id} already accepted`);
  }

  /** Records an authenticated, accepted message. */
  accept(keyId: string, nonce: string, sender: string, id: string): void {
    const now = this.now();
    this.entries.set(`n|${keyId}|${nonce}`, now);
    this.entries.set(`i|${accountOf(sender)}|${id}`, now);
    this.prune(now);
  }

  private prune(now: number): void {
    for (const [entry, acceptedAt] of this.entries) {
      const expired = acceptedAt < now - this.maxAgeMs - this.maxFutureMs;
      if (!expired && this.entries.size <= this.capacity) break;
      this.entries.delete(entry);
    }
  }
}
