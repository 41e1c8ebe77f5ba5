import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  decodeStanzaXml,
  encodeMessage,
  type Command,
  type CommandMessage,
  type SecureEnvelope,
} from '@copilot/protocol';
import { generateSessionKey, seal, wrapSessionKey } from '@copilot/protocol/secure-channel';
import {
  AgentSecureLayer,
  ManagerSecureLayer,
  managerSecureLayers,
} from '@copilot/transport/secure-layer';

const managerKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const wrongKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const AGENT = 'agent1@localhost/copilot';
const MANAGER = 'jobmanager@localhost/manager';

const wantGetJob: Command = {
  command: 'want_getJob',
  agentHost: 'host-1',
  jdl: '[ Requirements = true; ]',
};
const runJob: Command = {
  command: 'runJob',
  job: {
    id: 'job-1',
    command: '/bin/echo',
    arguments: 'hi',
    environment: '',
    packages: '',
    inputFiles: '',
    chirpUrl: 'http://127.0.0.1:1',
    inputDir: '/in',
    outputDir: '/out',
  },
};

function agentLayer(publicKey = managerKeys.publicKey): AgentSecureLayer {
  return new AgentSecureLayer({ localJid: AGENT, managerPublicKey: publicKey });
}

function managerLayer(now?: () => number): ManagerSecureLayer {
  return new ManagerSecureLayer({ localJid: MANAGER, privateKey: managerKeys.privateKey, now });
}

/** Through the real wire codec: encode as a stanza, serialize, parse, decode. */
function overTheWire(from: string, to: string, id: string, command: Command): CommandMessage {
  const xml = encodeMessage({ kind: 'command', from, to, id, noack: false, command }).toString();
  const message = decodeStanzaXml(xml);
  if (message.kind !== 'command') throw new Error('not a command');
  return message;
}

function expectRejected(fn: () => unknown, pattern?: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('rejected-secure');
    if (pattern) expect((error as ProtocolError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected rejected-secure');
}

function asEnvelope(command: Command): SecureEnvelope {
  if (command.command !== 'secure') throw new Error(`expected an envelope, got ${command.command}`);
  return command;
}

describe('secure layers: agent ⇄ manager', () => {
  it('round-trips a request and its reply, encrypted on the wire', () => {
    const agent = agentLayer();
    const manager = managerLayer();
    const request = overTheWire(
      AGENT,
      'jobmanager@localhost',
      'r1',
      agent.outgoing('jobmanager@localhost', 'r1', wantGetJob),
    );
    const envelope = asEnvelope(request.command);
    expect(envelope.sessionKey).toBeDefined();
    expect(JSON.stringify(envelope)).not.toContain('host-1');
    expect(manager.incoming(request.from, request.to, request.id, request.command)).toEqual(
      wantGetJob,
    );

    const reply = overTheWire(MANAGER, AGENT, 'p1', manager.outgoing(AGENT, 'p1', runJob));
    const replyEnvelope = asEnvelope(reply.command);
    expect(replyEnvelope.sessionKey).toBeUndefined();
    expect(replyEnvelope.keyId).toBe(envelope.keyId);
    expect(agent.incoming(reply.from, reply.to, reply.id, reply.command)).toEqual(runJob);
  });

  it('rejects a tampered field of the envelope or of the stanza', () => {
    const agent = agentLayer();
    const manager = managerLayer();
    const sent = asEnvelope(agent.outgoing('jobmanager@localhost', 'r1', wantGetJob));
    const flip = (value: string): string => {
      const bytes = Buffer.from(value, 'base64');
      bytes[3] = (bytes[3] ?? 0) ^ 0x80;
      return bytes.toString('base64');
    };
    // A different key id in every case (the last hex digit changed).
    const otherKeyId = sent.keyId.slice(0, -1) + (sent.keyId.endsWith('0') ? '1' : '0');
    const variants: Array<[string, string, string, string, SecureEnvelope]> = [
      [
        'ciphertext',
        AGENT,
        'jobmanager@localhost',
        'r1',
        { ...sent, ciphertext: flip(sent.ciphertext) },
      ],
      ['nonce', AGENT, 'jobmanager@localhost', 'r1', { ...sent, nonce: flip(sent.nonce) }],
      ['key_id', AGENT, 'jobmanager@localhost', 'r1', { ...sent, keyId: otherKeyId }],
      [
        'session_key',
        AGENT,
        'jobmanager@localhost',
        'r1',
        { ...sent, sessionKey: flip(sent.sessionKey ?? '') },
      ],
      ['from', 'mallory@localhost/x', 'jobmanager@localhost', 'r1', sent],
      ['to', AGENT, 'othermanager@localhost', 'r1', sent],
      ['id', AGENT, 'jobmanager@localhost', 'r2', sent],
    ];
    for (const [, from, to, id, envelope] of variants) {
      expectRejected(() => manager.incoming(from, to, id, envelope));
    }
    // None of the rejections burnt the nonce or the id: the intact message is still accepted.
    expect(manager.incoming(AGENT, 'jobmanager@localhost', 'r1', sent)).toEqual(wantGetJob);
  });

  it('rejects a replay: same message again, and the same ciphertext under a new id', () => {
    const agent = agentLayer();
    const manager = managerLayer();
    const sent = agent.outgoing('jobmanager@localhost', 'r1', wantGetJob);
    manager.incoming(AGENT, 'jobmanager@localhost', 'r1', sent);
    expectRejected(
      () => manager.incoming(AGENT, 'jobmanager@localhost', 'r1', sent),
      /replayed nonce/,
    );
    expectRejected(() => manager.incoming(AGENT, 'jobmanager@localhost', 'r9', sent));
    // A different message with an id already accepted is refused too.
    const again = agent.outgoing('jobmanager@localhost', 'r1', wantGetJob);
    expectRejected(
      () => manager.incoming(AGENT, 'jobmanager@localhost', 'r1', again),
      /already accepted/,
    );
  });

  it('rejects a message older than the window (timestamp inside the ciphertext)', () => {
    let now = Date.now();
    const agent = new AgentSecureLayer({
      localJid: AGENT,
      managerPublicKey: managerKeys.publicKey,
      now: () => now - 11 * 60_000,
    });
    const manager = managerLayer(() => now);
    const old = agent.outgoing('jobmanager@localhost', 'r1', wantGetJob);
    expectRejected(() => manager.incoming(AGENT, 'jobmanager@localhost', 'r1', old), /too old/);
    now += 0;
  });

  it('rejects a session key wrapped for another manager key', () => {
    const agent = agentLayer(wrongKeys.publicKey);
    const manager = managerLayer();
    const sent = agent.outgoing('jobmanager@localhost', 'r1', wantGetJob);
    expectRejected(() => manager.incoming(AGENT, 'jobmanager@localhost', 'r1', sent), /unwrap/);
  });

  it('refuses plain commands except the Heartbeat/monitoring ones', () => {
    const manager = managerLayer();
    const agent = agentLayer();
    expectRejected(
      () => manager.incoming(AGENT, 'jobmanager@localhost', 'r1', wantGetJob),
      /plain/,
    );
    expectRejected(() => agent.incoming(MANAGER, AGENT, 'p1', runJob), /plain/);
    const ping: Command = { command: 'Heartbeat:ping' };
    expect(manager.incoming(AGENT, 'jobmanager@localhost', 'h1', ping)).toBe(ping);
    const pong: Command = { command: 'pong' };
    expect(agent.outgoing(MANAGER, 'h2', pong)).toBe(pong);
  });

  it('the agent refuses a reply carrying a session key or under an unknown key', () => {
    const agent = agentLayer();
    const manager = managerLayer();
    manager.incoming(
      AGENT,
      'jobmanager@localhost',
      'r1',
      agent.outgoing('jobmanager@localhost', 'r1', wantGetJob),
    );
    const reply = asEnvelope(manager.outgoing(AGENT, 'p1', runJob));
    expectRejected(
      () => agent.incoming(MANAGER, AGENT, 'p1', { ...reply, sessionKey: 'AAAA' }),
      /must not carry/,
    );
    expectRejected(() => agentLayer().incoming(MANAGER, AGENT, 'p1', reply), /unknown key/);
    // A reply from another account under that key is refused.
    expectRejected(
      () => agent.incoming('mallory@localhost/m', AGENT, 'p1', reply),
      /does not belong/,
    );
    expect(agent.incoming(MANAGER, AGENT, 'p1', reply)).toEqual(runJob);
  });

  it('the manager cannot start a conversation with an agent that sent no key', () => {
    expectRejected(() => managerLayer().outgoing(AGENT, 'p1', runJob), /no session key/);
  });

  it('another agent cannot use a key id learnt from the wire', () => {
    const agent = agentLayer();
    const manager = managerLayer();
    const sent = asEnvelope(agent.outgoing('jobmanager@localhost', 'r1', wantGetJob));
    manager.incoming(AGENT, 'jobmanager@localhost', 'r1', sent);
    const mallory = new AgentSecureLayer({
      localJid: 'mallory@localhost',
      managerPublicKey: managerKeys.publicKey,
    });
    const forged = asEnvelope(mallory.outgoing('jobmanager@localhost', 'm1', wantGetJob));
    expectRejected(() =>
      manager.incoming('mallory@localhost/m', 'jobmanager@localhost', 'm1', {
        ...forged,
        keyId: sent.keyId,
      }),
    );
  });

  it('refuses a well-sealed payload that is not XML (anyone can make a session key)', () => {
    const { keyId, key } = generateSessionKey();
    const from = 'mallory@localhost/m';
    const to = 'jobmanager@localhost';
    const sealed = seal(key, { from, to, id: 'm1', keyId }, Buffer.from('<payload><a></b>'));
    const envelope: SecureEnvelope = {
      command: 'secure',
      keyId,
      sessionKey: wrapSessionKey(key, managerKeys.publicKey, from),
      ...sealed,
    };
    expectRejected(() => managerLayer().incoming(from, to, 'm1', envelope), /not well-formed/);
  });

  it('a restarted manager (empty cache) still reads the next request: the key travels with it', () => {
    const agent = agentLayer();
    managerLayer().incoming(
      AGENT,
      'jobmanager@localhost',
      'r1',
      agent.outgoing('jobmanager@localhost', 'r1', wantGetJob),
    );
    const restarted = managerLayer();
    const next = agent.outgoing('jobmanager@localhost', 'r2', wantGetJob);
    expect(restarted.incoming(AGENT, 'jobmanager@localhost', 'r2', next)).toEqual(wantGetJob);
  });

  it('the key cache is bounded and expires idle keys', () => {
    let now = Date.now();
    const manager = new ManagerSecureLayer({
      localJid: MANAGER,
      privateKey: managerKeys.privateKey,
      maxKeys: 3,
      keyIdleMs: 60_000,
      now: () => now,
    });
    for (let index = 0; index < 6; index += 1) {
      const agent = new AgentSecureLayer({
        localJid: `agent${index}@localhost`,
        managerPublicKey: managerKeys.publicKey,
        now: () => now,
      });
      manager.incoming(
        `agent${index}@localhost/r`,
        'jobmanager@localhost',
        `r${index}`,
        agent.outgoing('jobmanager@localhost', `r${index}`, wantGetJob),
      );
      expect(manager.cachedKeys).toBeLessThanOrEqual(3);
      expect(manager.cachedPeers).toBeLessThanOrEqual(3);
    }
    now += 61_000;
    expectRejected(() => manager.outgoing('agent5@localhost', 'p', runJob), /no session key/);
  });
});

describe('secure layers from config', () => {
  it('is off unless the variable says 1, and needs a readable key file when on', () => {
    const none = (): undefined => undefined;
    expect(managerSecureLayers(none, MANAGER)).toEqual([]);
    expect(() =>
      managerSecureLayers(
        (name) => ({ JM_SECURE_MODE: '1', JM_PRIVATE_KEY: '/nonexistent.pem' })[name],
        MANAGER,
      ),
    ).toThrow(/JM_PRIVATE_KEY \/nonexistent.pem cannot be read/);
  });
});
