/**
 * Secure mode with the real components: startJobManager and createAgent, each given the secure
 * layer and TLS options through their `session` option, over Prosody with TLS. A real job runs in
 * Docker end to end; a plain-mode agent gets nothing from the secure manager.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { createAgent, type Agent } from '@copilot/core/agent';
import { CopilotSession } from '@copilot/transport';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { managerSecureLayers } from '@copilot/transport/secure-layer';
import { sessionTlsFromConfig } from '@copilot/transport/tls-options';
import { ScriptedAgent } from '@test/fixtures/hostile/scripted-agent';
import { openJobQueue } from '@manager/job-manager/open-job-queue';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import {
  REPO_ROOT,
  startProcess,
  startTestXmppServer,
  type XmppServer,
  type ServiceProcess,
} from '@test/harness';
import { localManagerValues, localAgentSettings } from './local-settings';

const USERS = [
  { username: 'jm', password: 'jm-secret' },
  { username: 'agent', password: 'agent-secret' },
  { username: 'plain', password: 'plain-secret' },
];

describe('secure mode with the real manager and agent, over TLS', () => {
  let prosody: XmppServer;
  let root: string;
  let manager: RunningJobManager;
  let agent: Agent;
  const managerLog: LogRecord[] = [];
  const sessions: CopilotSession[] = [];

  beforeAll(async () => {
    prosody = await startTestXmppServer({ tls: true, users: USERS });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-secure-cycle-'));
    const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privatePath = path.join(root, 'jm-private.pem');
    const publicPath = path.join(root, 'jm-public.pem');
    fs.writeFileSync(privatePath, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    fs.writeFileSync(publicPath, keys.publicKey.export({ type: 'spki', format: 'pem' }));

    // The configuration variables, as the entry points would read them.
    const managerVars: Record<string, string> = {
      JM_SECURE_MODE: '1',
      JM_PRIVATE_KEY: privatePath,
      JM_JABBER_CA_FILE: prosody.caCertPath ?? '',
      JM_REQUIRE_TLS: '1',
    };

    const config = loadJobManagerConfig(
      [],
      localManagerValues(prosody, path.join(root, 'jm-state'), { JM_LEASE_SECONDS: '120' }),
    );
    manager = await startJobManager(config, {
      logger: createLogger('jm', (record) => managerLog.push(record)),
      session: {
        layers: managerSecureLayers(
          (name) => managerVars[name],
          `${config.xmpp.username}@${config.xmpp.domain}`,
        ),
        tls: sessionTlsFromConfig(managerVars.JM_JABBER_CA_FILE, managerVars.JM_REQUIRE_TLS),
      },
    });
    expect(manager.session.tlsSocket?.authorized).toBe(true);

    const dataDir = path.join(root, 'agent-work');
    fs.mkdirSync(dataDir);
    agent = createAgent({
      settings: localAgentSettings(prosody, 'agent', 'agent-secret', {
        // As a volunteer sets it in the desktop app (the CLI maps its variables to these).
        secureMode: true,
        jobManagerPublicKey: fs.readFileSync(publicPath, 'utf8'),
        xmppCaCertificate: fs.readFileSync(prosody.caCertPath ?? '', 'utf8'),
        requireTls: true,
      }),
      dataDir,
      xmppService: prosody.service,
      resource: 'secure-agent',
      fetchBackoff: { initialMs: 500, maxMs: 2_000, jitter: 0.1 },
    });
  });

  afterAll(async () => {
    await Promise.all(sessions.map((session) => session.stop()));
    await agent?.stop();
    await manager?.stop();
    await prosody?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('a plain-mode agent is refused by the secure manager', async () => {
    const commandFile = path.join(root, 'job.sh');
    fs.writeFileSync(commandFile, '#!/bin/sh\necho "secret result" > output/result.txt\n');
    await submitJob(manager.queue, manager.paths, { commandFile });
    const plainSession = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'plain',
      password: 'plain-secret',
      ackTimeoutMs: 300,
      maxSendAttempts: 2,
      tls: { ca: fs.readFileSync(prosody.caCertPath ?? '', 'utf8') },
    });
    sessions.push(plainSession);
    await plainSession.start();
    const plain = new ScriptedAgent(plainSession, `jm@${prosody.domain}`);
    await expect(plain.wantJob(1_500)).rejects.toThrow(/no acknowledgement|no have_getJob/);
    const rejected = managerLog.filter((record) => record.message === 'rejected message');
    expect(
      rejected.some((record) => /plain 'want_getJob' refused/.test(String(record.fields?.reason))),
    ).toBe(true);
    expect((await manager.queue.list()).every((job) => job.state === 'queued')).toBe(true);
  }, 30_000);

  it('the real agent runs a job end to end in secure mode', async () => {
    const [job] = await manager.queue.list();
    if (!job) throw new Error('no job');
    await agent.start();
    const finished = await waitForJob(manager.queue, job.id, 90_000);
    expect(finished?.state).toBe('done');
    expect(agent.session?.tlsSocket?.authorized).toBe(true);
    expect(agent.session?.saslMechanism).toBe('SCRAM-SHA-1');
    const archive = path.join(manager.config.doneJobDir, job.id);
    expect(fs.existsSync(archive)).toBe(true);
    expect(managerLog.filter((record) => record.message === 'job finished')).toHaveLength(1);
  }, 120_000);
});

describe('secure mode through the entry points and their config variables', () => {
  let prosody: XmppServer;
  let root: string;
  const processes: ServiceProcess[] = [];

  const start = (name: string, script: string, env: Record<string, string>, ready: RegExp) =>
    startProcess({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', path.join(REPO_ROOT, script)],
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      readyTimeoutMs: 30_000,
      ready: async (proc, signal) => {
        while (!signal.aborted && !ready.test(proc.logTail(200))) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
    }).then((proc) => {
      processes.push(proc);
      return proc;
    });

  beforeAll(async () => {
    prosody = await startTestXmppServer({ tls: true, users: USERS });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-secure-cli-'));
  });

  afterAll(async () => {
    for (const proc of processes) await proc.stop(3_000).catch(() => undefined);
    await prosody?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('copilot-jobmanager-generic and copilot-agent run a job with JM/AGENT_SECURE_MODE 1', async () => {
    const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privatePath = path.join(root, 'jm-private.pem');
    const publicPath = path.join(root, 'jm-public.pem');
    fs.writeFileSync(privatePath, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    fs.writeFileSync(publicPath, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    const stateDir = path.join(root, 'jm-state');
    const queue = await openJobQueue({
      queueDb: path.join(stateDir, 'queue.sqlite'),
      waitingJobsList: 'waiting-jobs',
    });
    try {
      const commandFile = path.join(root, 'job.sh');
      fs.writeFileSync(commandFile, '#!/bin/sh\necho ok > output/result.txt\n');
      const job = await submitJob(queue, new JobStorePaths(path.join(stateDir, 'storage')), {
        commandFile,
      });
      const jm = await start(
        'jobmanager',
        'manager/bin/copilot-jobmanager-generic.ts',
        localManagerValues(prosody, stateDir, {
          JM_SECURE_MODE: '1',
          JM_PRIVATE_KEY: privatePath,
          JM_JABBER_CA_FILE: prosody.caCertPath ?? '',
          JM_REQUIRE_TLS: '1',
        }),
        /job manager started/,
      );
      fs.mkdirSync(path.join(root, 'agent-work'));
      await start(
        'agent',
        'src/cli/copilot-agent.ts',
        {
          JM_JABBER_ADDRESS: `jm@${prosody.domain}`,
          AGENT_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
          AGENT_JABBER_DOMAIN: prosody.domain,
          AGENT_JABBER_ID: 'agent',
          AGENT_JABBER_PASSWORD: 'agent-secret',
          AGENT_WORK_DIR: path.join(root, 'agent-work'),
          AGENT_RUN_ONLY_WHEN_IDLE: 'false',
          AGENT_SECURE_MODE: '1',
          JM_PUBLIC_KEY: publicPath,
          AGENT_JABBER_CA_FILE: prosody.caCertPath ?? '',
          AGENT_REQUIRE_TLS: '1',
        },
        /agent starting/,
      );
      const finished = await waitForJob(queue, job.id, 60_000);
      expect(finished?.state, jm.logTail(30)).toBe('done');
      // Secure mode really is on in the manager process: a plain request is refused and logged.
      const plainSession = new CopilotSession({
        service: prosody.service,
        domain: prosody.domain,
        username: 'plain',
        password: 'plain-secret',
        maxSendAttempts: 1,
        ackTimeoutMs: 300,
        tls: { ca: fs.readFileSync(prosody.caCertPath ?? '', 'utf8'), requireTls: true },
      });
      await plainSession.start();
      await plainSession
        .send(`jm@${prosody.domain}`, { command: 'want_getJob', agentHost: 'p', jdl: '[]' })
        .catch(() => undefined);
      await plainSession.stop();
      expect(jm.logTail(50)).toMatch(/rejected message .*plain 'want_getJob' refused/);
    } finally {
      await queue.close();
    }
  }, 120_000);
});
