import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProtocolError, accountOf } from '@copilot/protocol';
import {
  ReplayWindow,
  associatedData,
  decodePayload,
  encodePayload,
  generateSessionKey,
  keyIdOf,
  open,
  seal,
  unwrapSessionKey,
  wrapSessionKey,
  type MessageBinding,
} from '@copilot/protocol/secure-channel';

const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

const binding: MessageBinding = {
  from: 'agent1@localhost/res-a',
  to: 'jobmanager@localhost',
  id: 'msg-1',
  keyId: 'k1',
};

function rejected(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('rejected-secure');
    return error as ProtocolError;
  }
  throw new Error('expected a rejection');
}

function flipBase64(value: string, index = 0): string {
  const bytes = Buffer.from(value, 'base64');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

describe('session key wrap (RSA-OAEP SHA-256)', () => {
  it('round-trips and the key id is derived from the key', () => {
    const session = generateSessionKey();
    expect(session.key).toHaveLength(32);
    expect(session.keyId).toBe(keyIdOf(session.key));
    const wrapped = wrapSessionKey(session.key, publicKey, 'agent1@localhost/x');
    const unwrapped = unwrapSessionKey(wrapped, privateKey, 'Agent1@localhost/other-resource');
    expect(unwrapped.key.equals(session.key)).toBe(true);
    expect(unwrapped.keyId).toBe(session.keyId);
  });

  it('refuses the wrong private key, another sender, and a tampered wrap', () => {
    const session = generateSessionKey();
    const wrapped = wrapSessionKey(session.key, publicKey, 'agent1@localhost');
    rejected(() => unwrapSessionKey(wrapped, other.privateKey, 'agent1@localhost'));
    rejected(() => unwrapSessionKey(wrapped, privateKey, 'agent2@localhost'));
    rejected(() => unwrapSessionKey(flipBase64(wrapped, 10), privateKey, 'agent1@localhost'));
  });
});

describe('AES-256-GCM seal/open', () => {
  const { key } = generateSessionKey();
  const plaintext = Buffer.from('<payload/>');

  it('round-trips, binding the bare JIDs only', () => {
    const sealed = seal(key, binding, plaintext);
    expect(open(key, binding, sealed).equals(plaintext)).toBe(true);
    const newResource = { ...binding, from: 'AGENT1@localhost/res-b' };
    expect(open(key, newResource, sealed).equals(plaintext)).toBe(true);
  });

  it.each([
    ['from', { from: 'agent2@localhost/res-a' }],
    ['to', { to: 'othermanager@localhost' }],
    ['id', { id: 'msg-2' }],
    ['keyId', { keyId: 'k2' }],
  ])('a ciphertext moved to another %s fails', (_field, change) => {
    const sealed = seal(key, binding, plaintext);
    rejected(() => open(key, { ...binding, ...change }, sealed));
  });

  it('tampering with the nonce, the ciphertext or the tag fails', () => {
    const sealed = seal(key, binding, plaintext);
    const tagStart = Buffer.from(sealed.ciphertext, 'base64').length - 1;
    rejected(() => open(key, binding, { ...sealed, nonce: flipBase64(sealed.nonce) }));
    rejected(() => open(key, binding, { ...sealed, ciphertext: flipBase64(sealed.ciphertext) }));
    rejected(() =>
      open(key, binding, { ...sealed, ciphertext: flipBase64(sealed.ciphertext, tagStart) }),
    );
    rejected(() => open(key, binding, { ...sealed, ciphertext: 'AAAA' }));
    rejected(() => open(key, binding, { ...sealed, nonce: 'not base64!' }));
  });

  it('the wrong key fails', () => {
    const sealed = seal(key, binding, plaintext);
    rejected(() => open(generateSessionKey().key, binding, sealed));
  });

  it('uses a fresh 96-bit nonce for every message', () => {
    const nonces = new Set<string>();
    for (let index = 0; index < 5000; index += 1) {
      const sealed = seal(key, binding, plaintext);
      expect(Buffer.from(sealed.nonce, 'base64')).toHaveLength(12);
      nonces.add(sealed.nonce);
    }
    expect(nonces.size).toBe(5000);
  });

  it('associated data is unambiguous (length-prefixed fields)', () => {
    const a = associatedData({ from: 'a@x', to: 'b@x', id: '1|2', keyId: 'k' });
    const b = associatedData({ from: 'a@x', to: 'b@x', id: '1', keyId: '2|k' });
    expect(a.equals(b)).toBe(false);
    expect(accountOf('User@Example.org/Res/with/slash')).toBe('user@example.org');
  });
});

describe('payload', () => {
  it('carries the plain <info> of the real command with ts and seq', () => {
    const command = {
      command: 'jobDone' as const,
      exitCode: 0,
      agentHost: 'host',
      state: 'done',
      jobID: 'job-1',
    };
    const decoded = decodePayload(encodePayload({ command, timestamp: 1234, sequence: 7 }));
    expect(decoded).toEqual({ command, timestamp: 1234, sequence: 7 });
  });

  it('refuses a nested secure envelope or a payload without ts', () => {
    const nested = encodePayload({
      command: { command: 'secure', keyId: 'k', nonce: 'n', ciphertext: 'c' },
      timestamp: 1,
      sequence: 1,
    });
    rejected(() => decodePayload(nested));
    rejected(() => decodePayload(Buffer.from('<payload><info command="pong"/></payload>')));
    rejected(() => decodePayload(Buffer.from('<other ts="1" seq="1"/>')));
    rejected(() => decodePayload(Buffer.from('<payload ts="1" seq="1"><a></b></payload>')));
    rejected(() => decodePayload(Buffer.from('<payload ts="1" seq="1" x="&bogus;"/>')));
  });
});

describe('ReplayWindow', () => {
  it('rejects a repeated nonce, a repeated message id, and stale or future messages', () => {
    let now = 1_000_000;
    const window = new ReplayWindow({ now: () => now, maxAgeMs: 60_000, maxFutureMs: 5_000 });
    window.check('k', 'n1', 'a@x/1', 'id1', now);
    window.accept('k', 'n1', 'a@x/1', 'id1');
    rejected(() => window.check('k', 'n1', 'a@x/1', 'id2', now));
    rejected(() => window.check('k', 'n2', 'a@x/2', 'id1', now));
    window.check('k', 'n2', 'b@x/1', 'id1', now);
    rejected(() => window.check('k', 'n3', 'a@x', 'id3', now - 60_001));
    rejected(() => window.check('k', 'n3', 'a@x', 'id3', now + 5_001));
    now += 10_000;
    window.check('k', 'n3', 'a@x', 'id3', now - 59_000);
  });

  it('stays bounded, forgetting expired entries first', () => {
    let now = 0;
    const window = new ReplayWindow({
      now: () => now,
      capacity: 100,
      maxAgeMs: 1000,
      maxFutureMs: 0,
    });
    for (let index = 0; index < 1000; index += 1) {
      now += 1;
      window.accept('k', `n${index}`, 'a@x', `id${index}`);
      expect(window.size).toBeLessThanOrEqual(100);
    }
    now += 10_000;
    window.accept('k', 'last', 'a@x', 'last');
    expect(window.size).toBe(2);
  });
});
