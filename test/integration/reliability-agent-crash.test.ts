/**
 * kill -9 of the real agent process (src/cli/copilot-agent.ts) while its job container runs: the
 * lease expires, the manager puts the job back in the queue, and another agent runs it to the
 * end. The job is done exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import {
  REPO_ROOT,
  ensureDocker,
  startProcess,
  startTestXmppServer,
  type XmppServer,
  type ServiceProcess,
} from '@test/harness';
import { localManagerValues } from './local-settings';

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('kill -9 of the agent mid-job', () => {
  let prosody: XmppServer;
  let root: string;
  let manager: RunningJobManager;
  const log: LogRecord[] = [];
  const agents: ServiceProcess[] = [];

  const startAgent = async (workDir: string, resource: string): Promise<ServiceProcess> => {
    fs.mkdirSync(path.join(root, workDir), { recursive: true });
    const proc = await startProcess({
      name: 'agent',
      command: process.execPath,
      args: ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/copilot-agent.ts')],
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        JM_JABBER_ADDRESS: `jm@${prosody.domain}`,
        AGENT_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
        AGENT_JABBER_DOMAIN: prosody.domain,
        AGENT_JABBER_ID: 'agent',
        AGENT_JABBER_PASSWORD: 'agent-secret',
        AGENT_WORK_DIR: path.join(root, workDir),
        AGENT_RUN_ONLY_WHEN_IDLE: 'false',
        AGENT_JABBER_RESOURCE: resource,
      },
      readyTimeoutMs: 30_000,
      ready: async (started, signal) => {
        while (!signal.aborted && !/agent starting/.test(started.logTail(200))) await sleep(50);
      },
    });
    agents.push(proc);
    return proc;
  };

  beforeAll(async () => {
    prosody = await startTestXmppServer({
      users: [
        { username: 'jm', password: 'jm-secret' },
        { username: 'agent', password: 'agent-secret' },
      ],
    });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-agent-crash-'));
    const config = loadJobManagerConfig(
      [],
      localManagerValues(prosody, path.join(root, 'jm-state'), { JM_LEASE_SECONDS: '6' }),
    );
    manager = await startJobManager(config, {
      logger: createLogger('jm', (record) => log.push(record)),
      reaperIntervalMs: 250,
    });
  });

  afterAll(async () => {
    for (const proc of agents) await proc.stop(3_000).catch(() => undefined);
    await manager?.stop();
    await prosody?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('the lease expires, the job goes back to the queue, and is done exactly once', async () => {
    const commandFile = path.join(root, 'job.sh');
    fs.writeFileSync(commandFile, '#!/bin/sh\nsleep 2\necho finished > output/result.txt\n');
    const job = await submitJob(manager.queue, manager.paths, { commandFile });
    const docker = await ensureDocker();
    const running = async (): Promise<boolean> => {
      const list = await docker.listContainers({
        filters: { label: [`copilot.job=${job.id}`], status: ['running'] },
      });
      return list.length > 0;
    };

    const first = await startAgent('crashed-agent', 'crashy');
    const deadline = Date.now() + 60_000;
    while (!(await running())) {
      if (Date.now() > deadline) throw new Error(`job never started:\n${first.logTail(40)}`);
      await sleep(100);
    }
    expect((await manager.queue.get(job.id))?.state).toMatch(/leased|running|uploading/);
    await first.kill9();

    // No agent: the lease runs out and the reaper puts the job back.
    const requeueDeadline = Date.now() + 20_000;
    while ((await manager.queue.get(job.id))?.state !== 'queued') {
      if (Date.now() > requeueDeadline) throw new Error('job not requeued after lease expiry');
      await sleep(100);
    }
    expect(log.some((record) => /lease expired/.test(record.message))).toBe(true);

    // The crashed agent comes back on its own work dir: it adopts the container it had left
    // (exited by now), offers the result, is refused (the lease is gone), drops that stale copy,
    // and takes the requeued job anew.
    const restarted = await startAgent('crashed-agent', 'crashy');
    const finished = await waitForJob(manager.queue, job.id, 90_000);
    expect(finished?.state, restarted.logTail(40)).toBe('done');
    expect(restarted.logTail(200)).toMatch(
      /adopting the job container[\s\S]*job dropped.*the manager refused the job \(lease-lost\)/,
    );
    expect(finished?.attempts).toBeGreaterThanOrEqual(2);
    expect(log.filter((record) => record.message === 'job finished')).toHaveLength(1);
    expect(fs.readdirSync(manager.config.doneJobDir)).toEqual([job.id]);
  }, 170_000);
});
