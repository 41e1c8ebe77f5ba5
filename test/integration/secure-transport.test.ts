import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtocolError } from '@copilot/protocol';
import { type Command, type CommandMessage } from '@copilot/protocol';
import { CopilotSession, type CopilotSessionOptions, type MessageLayer } from '@copilot/transport';
import { AgentSecureLayer, ManagerSecureLayer } from '@copilot/transport/secure-layer';
import { startTestXmppServer, type XmppServer } from '@test/harness';

const USERS = [
  { username: 'jm', password: 'jm-secret' },
  { username: 'agent', password: 'agent-secret' },
  { username: 'mallory', password: 'mallory-secret' },
];

const wantGetJob: Command = { command: 'want_getJob', agentHost: 'volunteer-1', jdl: '[]' };
const runJob: Command = {
  command: 'runJob',
  job: {
    id: 'job-42',
    command: '/bin/true',
    arguments: '',
    environment: '',
    packages: '',
    inputFiles: '',
    chirpUrl: 'http://127.0.0.1:9',
    inputDir: 'in',
    outputDir: 'out',
  },
};

/** Waits until predicate() holds, polling. */
async function until(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('XMPP over TLS with a private CA (a real server, tls: true)', () => {
  let prosody: XmppServer;
  const sessions: CopilotSession[] = [];

  const session = (
    username: string,
    password: string,
    extra: Partial<CopilotSessionOptions> = {},
  ): CopilotSession => {
    const created = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username,
      password,
      resource: `r-${crypto.randomBytes(3).toString('hex')}`,
      ackTimeoutMs: 400,
      reconnect: { initialMs: 200, maxMs: 1_500, jitter: 0.2 },
      ...extra,
    });
    sessions.push(created);
    return created;
  };

  const ca = (): string => fs.readFileSync(prosody.caCertPath ?? '', 'utf8');

  beforeAll(async () => {
    prosody = await startTestXmppServer({ tls: true, users: USERS });
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.stop()));
    await prosody?.stop();
  });

  it('logs in over verified TLS with SCRAM-SHA-1, not PLAIN', async () => {
    const agent = session('agent', 'agent-secret', { tls: { ca: ca(), requireTls: true } });
    await agent.start();
    const socket = agent.tlsSocket;
    expect(socket).toBeDefined();
    expect(socket?.authorized).toBe(true);
    expect(socket?.getPeerCertificate().fingerprint256).toBe(prosody.certFingerprint256);
    expect(agent.saslMechanism).toBe('SCRAM-SHA-1');
  });

  it('refuses a certificate that the given CA did not sign (and the system CAs do not know)', async () => {
    const other = session('agent', 'agent-secret', { tls: { requireTls: true } });
    await expect(other.start()).rejects.toThrow(
      /TLS with the XMPP server failed: .*(self.signed|certificate)/i,
    );
  });

  it('bad credentials over TLS give the clear login error', async () => {
    const bad = session('agent', 'wrong-password', { tls: { ca: ca() } });
    await expect(bad.start()).rejects.toThrow(
      /XMPP login refused for agent@localhost: wrong user name or password/,
    );
  });

  describe('secure mode end to end', () => {
    const managerKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    let manager: CopilotSession;
    let agent: CopilotSession;
    let mallory: CopilotSession;
    const managerReceived: CommandMessage[] = [];
    const agentReceived: CommandMessage[] = [];
    const managerRejections: Array<{ error: ProtocolError; from: string }> = [];
    const captured: Command[] = [];
    /** Flips one ciphertext byte of the first copy of each listed message id, as on the wire. */
    const tamperOnce = new Set<string>();

    const tamperLayer: MessageLayer = {
      outgoing: (_to, _id, command) => command,
      incoming: (_from, _to, id, command) => {
        if (!tamperOnce.delete(id) || command.command !== 'secure') return command;
        const bytes = Buffer.from(command.ciphertext, 'base64');
        bytes[0] = (bytes[0] ?? 0) ^ 0xff;
        return { ...command, ciphertext: bytes.toString('base64') };
      },
    };
    const tapLayer: MessageLayer = {
      outgoing: (_to, _id, command) => {
        captured.push(command);
        return command;
      },
      incoming: (_from, _to, _id, command) => command,
    };

    beforeAll(async () => {
      const tls = { ca: ca(), requireTls: true };
      manager = session('jm', 'jm-secret', {
        tls,
        layers: [
          new ManagerSecureLayer({ localJid: 'jm@localhost', privateKey: managerKeys.privateKey }),
          tamperLayer,
        ],
      });
      agent = session('agent', 'agent-secret', {
        tls,
        layers: [
          new AgentSecureLayer({
            localJid: 'agent@localhost',
            managerPublicKey: managerKeys.publicKey,
          }),
          tapLayer,
        ],
      });
      mallory = session('mallory', 'mallory-secret', { tls, maxSendAttempts: 2 });
      manager.onCommand((message) => {
        managerReceived.push(message);
        if (message.command.command === 'want_getJob') {
          manager.send(message.from, runJob).catch(() => undefined);
        }
      });
      manager.events.on('protocol-error', (error, from) => managerRejections.push({ error, from }));
      agent.onCommand((message) => {
        agentReceived.push(message);
      });
      await Promise.all([manager.start(), agent.start(), mallory.start()]);
    });

    it('a request and its reply travel encrypted and arrive as plain commands', async () => {
      await agent.send('jm@localhost', wantGetJob);
      await until(() => agentReceived.length === 1);
      expect(managerReceived.map((m) => m.command)).toEqual([wantGetJob]);
      expect(agentReceived[0]?.command).toEqual(runJob);
      expect(captured[0]?.command).toBe('secure');
    });

    it('a tampered copy is rejected and logged; the retransmission goes through', async () => {
      const before = managerReceived.length;
      const rejectionsBefore = managerRejections.length;
      const id = 'tampered-then-resent';
      tamperOnce.add(id);
      await agent.send('jm@localhost', { ...wantGetJob, agentHost: 'volunteer-2' }, { id });
      await until(() => managerReceived.length === before + 1);
      expect(managerRejections.length).toBe(rejectionsBefore + 1);
      expect(managerRejections.at(-1)?.error.code).toBe('rejected-secure');
      expect(managerReceived.at(-1)?.command).toMatchObject({ agentHost: 'volunteer-2' });
    });

    it('plain commands and replayed ciphertexts from another account are refused', async () => {
      const before = managerReceived.length;
      const rejectionsBefore = managerRejections.length;
      const envelope = captured[0];
      if (!envelope) throw new Error('nothing captured');
      await expect(mallory.send('jm@localhost', wantGetJob, { id: 'plain-1' })).rejects.toThrow(
        /no acknowledgement/,
      );
      await mallory.send('jm@localhost', envelope, { noack: true, id: 'replay-1' });
      const reasons = (): string[] =>
        managerRejections.slice(rejectionsBefore).map((r) => r.error.message);
      await until(() => reasons().some((reason) => /does not belong/.test(reason)));
      expect(reasons().some((reason) => /plain 'want_getJob' refused/.test(reason))).toBe(true);
      expect(managerReceived.length).toBe(before);
    }, 30_000);

    it('after the server restarts, both reconnect over verified TLS and secure mode goes on', async () => {
      await prosody.restart();
      await until(() => agent.isOnline && manager.isOnline, 30_000);
      expect(agent.tlsSocket?.authorized).toBe(true);
      expect(manager.tlsSocket?.authorized).toBe(true);
      const before = agentReceived.length;
      await agent.send('jm@localhost', { ...wantGetJob, agentHost: 'after-restart' });
      await until(() => agentReceived.length === before + 1);
      expect(managerReceived.at(-1)?.command).toMatchObject({ agentHost: 'after-restart' });
    }, 60_000);
  });
});

describe('requireTls against a server without TLS', () => {
  let prosody: XmppServer;

  beforeAll(async () => {
    prosody = await startTestXmppServer({
      tls: false,
      users: [USERS[1] ?? { username: 'agent', password: 'agent-secret' }],
    });
  });

  afterAll(async () => {
    await prosody?.stop();
  });

  it('refuses to log in', async () => {
    const agent = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'agent',
      password: 'agent-secret',
      tls: { requireTls: true },
    });
    await expect(agent.start()).rejects.toThrow(/does not offer STARTTLS and requireTls is set/);
    await agent.stop();
  });

  it('without requireTls it still logs in (SCRAM-SHA-1, no TLS)', async () => {
    const agent = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'agent',
      password: 'agent-secret',
      tls: {},
    });
    await agent.start();
    expect(agent.tlsSocket).toBeUndefined();
    expect(agent.saslMechanism).toBe('SCRAM-SHA-1');
    await agent.stop();
  });
});
