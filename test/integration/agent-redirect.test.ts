// Redirect (2.2.4) with the real manager: a job manager (JM_ROLE all + JM_STORAGE_MANAGER_ADDRESS)
// hands out the job and redirects the output dir requests and jobDone to a storage manager.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDocker,
  startTestXmppServer,
  startRedis,
  type XmppServer,
  type RedisServer,
} from '@test/harness';
import { createAgent, type Agent } from '@copilot/core/agent';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import type { JobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { managerConfigFor } from './agent-manager-fixture';
import { localAgentSettings } from './local-settings';

const PASSWORD = 'pw-redirect';
let prosody: XmppServer;
// The queue is the manager's Redis backend (JM_REDIS_SERVER), a real redis-server.
let redis: RedisServer;
let root: string;
const running: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['jm', 'storage', 'agent'].map((username) => ({ username, password: PASSWORD })),
  });
  redis = await startRedis();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-redirect-'));
});

afterAll(async () => {
  for (const item of running.reverse()) await item.stop();
  await prosody?.stop();
  await redis?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

function config(username: string, role: JobManagerConfig['role']): JobManagerConfig {
  return managerConfigFor({
    prosody,
    username,
    password: PASSWORD,
    stateDir: path.join(root, 'state'),
    redisUrl: redis.url,
    role,
    resource: role,
  });
}

describe('agent follows redirect', () => {
  it('sends the redirected output dir request and jobDone to the storage manager', async () => {
    const storage: RunningJobManager = await startJobManager(config('storage', 'storage'), {
      session: { ackTimeoutMs: 1000 },
      redisNamespace: 'agent-redirect',
    });
    running.push(storage);
    const jobManager: RunningJobManager = await startJobManager(
      { ...config('jm', 'all'), storageManagerAddress: storage.jid },
      { session: { ackTimeoutMs: 1000 }, redisNamespace: 'agent-redirect' },
    );
    running.push(jobManager);
    const source = path.join(root, 'calculator.sh');
    fs.writeFileSync(source, '#!/bin/bash\necho "2+2" | bc\n', { mode: 0o755 });
    const submitted = await submitJob(jobManager.queue, jobManager.paths, { commandFile: source });

    const agent: Agent = createAgent({
      settings: localAgentSettings(prosody, 'agent', PASSWORD),
      dataDir: path.join(root, 'agent'),
      replyTimeoutMs: 3000,
      fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
      retryBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
      session: { ackTimeoutMs: 1000 },
      logLevel: 'debug',
    });
    running.push(agent);
    await agent.start();
    const job = await waitForJob(jobManager.queue, submitted.id, 60_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done' });
    expect(fs.readFileSync(path.join(root, 'state', 'done', submitted.id, 'stdout'), 'utf8')).toBe(
      '4\n',
    );
    const log = await agent.commands.getLog(1000);
    const redirects = log.filter((entry) => entry.message === 'redirected');
    expect(redirects.map((entry) => entry.fields?.command)).toEqual(
      expect.arrayContaining(['want_getJobOutputDir']),
    );
    expect(redirects.every((entry) => entry.fields?.referral === storage.jid)).toBe(true);
    const delivered = log.find((entry) => entry.message === 'jobDone delivered');
    expect(delivered?.fields?.to).toBe(storage.jid);
  });
});
