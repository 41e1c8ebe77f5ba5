/**
 * Co-Pilot over ejabberd (Debian's 23.01, the server report 4.1.1 recommends; issue #14), as over
 * Prosody elsewhere: the real manager and agent run a job in Docker, copilot-heartbeat questions
 * both in the Heartbeat room, secure mode runs a job over STARTTLS, and sessions that join a room
 * as they come online keep their stream (ejabberd enables XEP-0198 stream management).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { main as heartbeatMain } from '@manager/bin/copilot-heartbeat';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { createAgent, type Agent } from '@copilot/core/agent';
import { CopilotSession } from '@copilot/transport';
import { managerSecureLayers } from '@copilot/transport/secure-layer';
import { sessionTlsFromConfig } from '@copilot/transport/tls-options';
import {
  connectXmpp,
  ensureDocker,
  startEjabberd,
  type EjabberdServer,
  type XmppSession,
  until,
} from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const AGENT_PASSWORD = 'agent-secret';
const HB_PASSWORD = 'hb-secret';
const ROOM = 'pilots-lounge';
const USERS = [
  { username: 'jm', password: MANAGER_PASSWORD },
  { username: 'agent', password: AGENT_PASSWORD },
  { username: 'hb', password: HB_PASSWORD },
  ...Array.from({ length: 24 }, (_, index) => ({ username: `joiner${index}`, password: 'pw' })),
];

let root: string;
let docker: Docker;

beforeAll(async () => {
  docker = await ensureDocker();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-ejabberd-'));
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

function jobScript(name: string, text: string): string {
  const file = path.join(root, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

describe('the job cycle and the Heartbeat over ejabberd', () => {
  let server: EjabberdServer;
  let manager: RunningJobManager | undefined;
  let agent: Agent | undefined;

  beforeAll(async () => {
    server = await startEjabberd({ users: USERS });
    const config = loadJobManagerConfig(
      [],
      localManagerValues(server, path.join(root, 'jm-state'), {
        JM_LEASE_SECONDS: '120',
        HB_CHAT_SERVER: server.mucDomain,
        HB_CHAT_ROOM: ROOM,
      }),
    );
    manager = await startJobManager(config, { session: { ackTimeoutMs: 1000 } });
    agent = createAgent({
      settings: localAgentSettings(server, 'agent', AGENT_PASSWORD, {
        cpuLimitPercent: 100,
        memoryLimitMb: 256,
        heartbeatChatServer: server.mucDomain,
        heartbeatChatRoom: ROOM,
      }),
      dataDir: path.join(root, 'agent'),
      docker,
      resource: 'agent-ej',
      replyTimeoutMs: 3000,
      fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
      session: { ackTimeoutMs: 1000 },
    });
    await agent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    await manager?.stop();
    await server?.stop();
  });

  it('runs calculator.sh end to end: the done dir holds stdout 4', async () => {
    if (!manager) throw new Error('no manager');
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: jobScript('calculator.sh', '#!/bin/bash\necho "2+2" | bc\n'),
    });
    const job = await waitForJob(manager.queue, submitted.id, 45_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0 });
    const done = path.join(manager.config.doneJobDir, submitted.id);
    expect(fs.readFileSync(path.join(done, 'stdout'), 'utf8')).toBe('4\n');
  }, 60_000);

  it('copilot-heartbeat gets answers from the manager and the agent in the room', async () => {
    let stdout = '';
    let stderr = '';
    const code = await heartbeatMain(['--timeout=5', 'ping', '--json'], {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      env: {
        HB_JABBER_SERVER: `127.0.0.1:${server.port}`,
        HB_JABBER_DOMAIN: server.domain,
        HB_JABBER_ID: 'hb',
        HB_JABBER_PASSWORD: HB_PASSWORD,
        HB_CHAT_SERVER: server.mucDomain,
        HB_CHAT_ROOM: ROOM,
      },
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { replies: { nick: string; answered: boolean }[] };
    expect(parsed.replies.map((reply) => reply.nick).sort()).toEqual(['agent-ej', 'jobmanager']);
    expect(parsed.replies.every((reply) => reply.answered)).toBe(true);
  }, 30_000);

  describe('stream management (XEP-0198, on in ejabberd)', () => {
    const sessions: CopilotSession[] = [];
    afterEach(async () => {
      await Promise.all(sessions.splice(0).map((session) => session.stop()));
    });

    it('sessions that join a room as they come online keep their stream', async () => {
      const errors: string[] = [];
      let stopping = false;
      const joiners = USERS.filter((user) => user.username.startsWith('joiner'));
      // Each round joins a room that the previous rounds' occupants are leaving, so presences
      // pour in while the stream is being set up. Before the session waited for <enabled/>,
      // most runs lost a stream: 'Client acknowledged more stanzas than sent by server'.
      for (let round = 0; round < 3; round += 1) {
        const dropped: string[] = [];
        await Promise.all(
          joiners.map(async (user) => {
            const session = new CopilotSession({
              service: server.service,
              domain: server.domain,
              ...user,
              resource: `round${round}`,
            });
            session.joinRoom(`sm-room@${server.mucDomain}`, `${user.username}-${round}`);
            session.events.on('error', (error) => errors.push(error.message));
            session.events.on('offline', () => {
              if (!stopping) dropped.push(user.username);
            });
            sessions.push(session);
            await session.start();
          }),
        );
        await sleep(1_500);
        expect(errors).toEqual([]);
        expect(dropped).toEqual([]);
        expect(sessions.every((session) => session.isOnline)).toBe(true);
        stopping = true;
        await Promise.all(sessions.splice(0).map((session) => session.stop()));
        stopping = false;
      }
    }, 60_000);
  });
});

describe('secure mode over ejabberd with STARTTLS required', () => {
  let server: EjabberdServer;
  let manager: RunningJobManager | undefined;
  let agent: Agent | undefined;

  beforeAll(async () => {
    server = await startEjabberd({ tls: true, users: USERS.slice(0, 2) });
  });

  afterAll(async () => {
    await agent?.stop();
    await manager?.stop();
    await server?.stop();
  });

  it('the real manager and agent run a job end to end in secure mode', async () => {
    const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privatePath = path.join(root, 'jm-private.pem');
    fs.writeFileSync(privatePath, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    const managerVars: Record<string, string> = {
      JM_SECURE_MODE: '1',
      JM_PRIVATE_KEY: privatePath,
      JM_JABBER_CA_FILE: server.caCertPath ?? '',
      JM_REQUIRE_TLS: '1',
    };
    const config = loadJobManagerConfig(
      [],
      localManagerValues(server, path.join(root, 'secure-jm'), { JM_LEASE_SECONDS: '120' }),
    );
    manager = await startJobManager(config, {
      session: {
        ackTimeoutMs: 1000,
        layers: managerSecureLayers((name) => managerVars[name], `jm@${server.domain}`),
        tls: sessionTlsFromConfig(managerVars.JM_JABBER_CA_FILE, managerVars.JM_REQUIRE_TLS),
      },
    });
    expect(manager.session.tlsSocket?.authorized).toBe(true);
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: jobScript('secure.sh', '#!/bin/sh\necho "secret result"\n'),
    });
    agent = createAgent({
      settings: localAgentSettings(server, 'agent', AGENT_PASSWORD, {
        secureMode: true,
        jobManagerPublicKey: String(keys.publicKey.export({ type: 'spki', format: 'pem' })),
        xmppCaCertificate: fs.readFileSync(server.caCertPath ?? '', 'utf8'),
        requireTls: true,
      }),
      dataDir: path.join(root, 'secure-agent'),
      docker,
      resource: 'secure-agent',
      replyTimeoutMs: 3000,
      fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
      session: { ackTimeoutMs: 1000 },
    });
    await agent.start();
    await until('the agent online', () => agent?.session?.isOnline ?? false, 20_000);
    expect(agent.session?.tlsSocket?.authorized).toBe(true);
    const job = await waitForJob(manager.queue, submitted.id, 45_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0 });
    const result = path.join(manager.config.doneJobDir, submitted.id, 'stdout');
    expect(fs.readFileSync(result, 'utf8')).toBe('secret result\n');
  }, 90_000);
});

/**
 * fast_xml 1.1.49 (Debian's ejabberd 23.01) serialises elements recursively in C: one message
 * with an element about 4,000 levels deep (28 KB), from any account to anyone online, ended the
 * whole node with SIGSEGV. Larger scheduler stacks (DEEP_XML_GUARD, which docs/scaling.md asks
 * deployments to set) make the deepest element max_stanza_size lets through harmless.
 */
describe('a deeply nested element from any account', () => {
  async function survives(deepXmlGuard: boolean, depth: number): Promise<boolean> {
    const target = { username: 'target', password: 'pw' };
    const sender = { username: 'sender', password: 'pw' };
    const server = await startEjabberd({ users: [target, sender], deepXmlGuard });
    const sessions: XmppSession[] = [];
    try {
      sessions.push(await connectXmpp(server, target, { resource: 'online' }));
      const attacker = await connectXmpp(server, sender);
      sessions.push(attacker);
      const nested = `${'<x>'.repeat(depth)}${'</x>'.repeat(depth)}`;
      await attacker.client.write(
        `<message to='${server.jid('target')}/online' id='deep'><q xmlns='urn:example:deep'>${nested}</q></message>`,
      );
      await sleep(1_500);
      const probe = await connectXmpp(server, sender).catch(() => undefined);
      if (probe) sessions.push(probe);
      return probe !== undefined;
    } finally {
      await Promise.all(sessions.map((session) => session.stop().catch(() => undefined)));
      await server.stop().catch(() => undefined);
    }
  }

  it('does not kill the server: 37,000 levels, as deep as 256 KiB allows', async () => {
    expect(await survives(true, 37_000)).toBe(true);
  }, 60_000);

  // If this starts failing, fast_xml no longer overflows its stack and the guard may go.
  it('without the guard, 4,000 levels kill it (the upstream bug)', async () => {
    expect(await survives(false, 4_000)).toBe(false);
  }, 60_000);
});
