/**
 * Outages of the servers the components depend on: the XMPP server goes away (SIGKILL) and comes
 * back, and Redis goes away and comes back. Both sides reconnect by themselves and the job in
 * progress finishes; a Redis outage is a logged error and a retry, never a crash.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { CopilotSession } from '@copilot/transport';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { ScriptedAgent } from '@test/fixtures/hostile/scripted-agent';
import { startTestXmppServer, startRedis, type XmppServer, type RedisServer } from '@test/harness';
import { localManagerValues } from './local-settings';

const USERS = [
  { username: 'jm', password: 'jm-secret' },
  { username: 'agent', password: 'agent-secret' },
];
const FAST_RECONNECT = { initialMs: 200, maxMs: 1_500, jitter: 0.2 };

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await sleep(50);
  }
}

describe('server outages', () => {
  let prosody: XmppServer;
  let redis: RedisServer;
  let root: string;
  let manager: RunningJobManager;
  let agentSession: CopilotSession;
  let agent: ScriptedAgent;
  let commandFile: string;
  const log: LogRecord[] = [];

  beforeAll(async () => {
    [prosody, redis] = await Promise.all([
      startTestXmppServer({ users: USERS }),
      startRedis({ persistent: true }),
    ]);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-outages-'));
    commandFile = path.join(root, 'job.sh');
    fs.writeFileSync(commandFile, '#!/bin/sh\necho hi\n');
    const config = loadJobManagerConfig(
      [],
      localManagerValues(prosody, path.join(root, 'jm-state'), {
        JM_REDIS_SERVER: redis.url,
        JM_LEASE_SECONDS: '120',
      }),
    );
    manager = await startJobManager(config, {
      logger: createLogger('jm', (record) => log.push(record)),
      session: { ackTimeoutMs: 400, reconnect: FAST_RECONNECT },
      redisNamespace: `outages-${process.pid}`,
      reaperIntervalMs: 300,
    });
    agentSession = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'agent',
      password: 'agent-secret',
      resource: 'scripted',
      ackTimeoutMs: 400,
      maxSendAttempts: 12,
      reconnect: FAST_RECONNECT,
    });
    await agentSession.start();
    agent = new ScriptedAgent(agentSession, `jm@${prosody.domain}`);
  });

  afterAll(async () => {
    await agentSession?.stop();
    await manager?.stop();
    await Promise.all([prosody?.stop(), redis?.stop()]);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('the XMPP server is killed mid-job and restarted: both sides reconnect and finish', async () => {
    const job = await submitJob(manager.queue, manager.paths, { commandFile });
    await agent.wantJob();
    const runJob = await agent.getJob();
    expect(runJob.job.id).toBe(job.id);

    await prosody.kill9();
    await until('both offline', () => !agentSession.isOnline && !manager.session.isOnline, 10_000);
    // Sent while the server is down: it waits in the session and goes out after the reconnect.
    const pendingStep = agent.outputDir(runJob, 30_000);
    await sleep(500);
    await prosody.restart();
    await until('both online', () => agentSession.isOnline && manager.session.isOnline);

    const store = await pendingStep;
    expect(await agent.upload(store, 'result.txt', 'after the outage\n')).toBeLessThan(300);
    await agent.jobDone(runJob);
    const finished = await waitForJob(manager.queue, job.id, 15_000);
    expect(finished?.state).toBe('done');
  }, 90_000);

  it('Redis down: a clear logged error, no crash; the agent retries and the job finishes', async () => {
    const job = await submitJob(manager.queue, manager.paths, { commandFile });
    const before = log.length;
    await redis.kill9();

    // The request cannot be served: the manager logs why, and does not acknowledge it (an ack
    // means handled), so the agent's session resends it.
    let acked = false;
    agent
      .send({ command: 'want_getJob', agentHost: 'scripted-agent', jdl: '[]' })
      .then(() => (acked = true))
      .catch(() => undefined);
    await until(
      'a logged queue error',
      () => log.slice(before).some((record) => record.level === 'error' || record.level === 'warn'),
      30_000,
    );
    const problems = log.slice(before).filter((r) => r.level === 'error' || r.level === 'warn');
    const text = problems.map((r) => `${r.message} ${String(r.fields?.error ?? '')}`).join('\n');
    expect(text).toMatch(/failed/);
    expect(text).toContain(`Redis at ${redis.url} is unreachable`);
    expect(manager.session.isOnline).toBe(true);
    expect(acked).toBe(false);

    await redis.restart();
    // The agent's next rounds (a real agent backs off between want_getJob rounds).
    const deadline = Date.now() + 30_000;
    for (;;) {
      agent.clearInbox();
      try {
        await agent.wantJob(2_000);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
    const runJob = await agent.getJob();
    expect(runJob.job.id).toBe(job.id);
    const store = await agent.outputDir(runJob);
    expect(await agent.upload(store, 'result.txt', 'after redis came back\n')).toBeLessThan(300);
    await agent.jobDone(runJob);
    const finished = await waitForJob(manager.queue, job.id, 15_000);
    expect(finished?.state).toBe('done');
  }, 90_000);
});
