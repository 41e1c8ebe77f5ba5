// The agent when things go wrong around it: Docker not running (no work is asked for until it
// answers), the agent itself restarted mid-job (the job in hand is resumed), and the XMPP server
// restarted mid-job (the session comes back and the result is delivered).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDocker,
  startTestXmppServer,
  startRedis,
  type XmppServer,
  type RedisServer,
  until,
} from '@test/harness';
import { createAgent, type Agent, type AgentOptions } from '@copilot/core/agent';
import { CopilotSession } from '@copilot/transport/copilot-session';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { managerConfigFor } from './agent-manager-fixture';
import { localAgentSettings } from './local-settings';

const PASSWORD = 'pw-resilience';
let prosody: XmppServer;
let redis: RedisServer;
let docker: Docker;
let root: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['jm', 'agent1', 'agent2', 'agent3'].map((username) => ({
      username,
      password: PASSWORD,
    })),
  });
  redis = await startRedis();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-resilience-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await prosody?.stop();
  await redis?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

function agentOptions(
  user: string,
  dataDir: string,
  extra: Partial<AgentOptions> = {},
): AgentOptions {
  return {
    settings: localAgentSettings(prosody, user, PASSWORD, {
      memoryLimitMb: 256,
    }),
    dataDir,
    replyTimeoutMs: 3000,
    fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
    retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000, reconnect: { initialMs: 200, maxMs: 1000, jitter: 0.3 } },
    ...extra,
  };
}

async function startAgent(options: AgentOptions): Promise<Agent> {
  const agent = createAgent(options);
  cleanups.push(() => agent.stop());
  await agent.start();
  return agent;
}

async function startManager(name: string): Promise<RunningJobManager> {
  const stateDir = path.join(root, name);
  const config = managerConfigFor({
    prosody,
    username: 'jm',
    password: PASSWORD,
    stateDir,
    redisUrl: redis.url,
  });
  const manager = await startJobManager(config, {
    session: { ackTimeoutMs: 1000, reconnect: { initialMs: 200, maxMs: 1000, jitter: 0.3 } },
    redisNamespace: `agent-resilience-${name}`,
  });
  cleanups.push(() => manager.stop());
  return manager;
}

function script(name: string, text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(root, 'job-')), name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

describe('agent resilience', () => {
  it('while Docker does not answer: says so and sends no want_getJob; asks for work once it answers', async () => {
    // A job manager stand-in that only records what reaches jm@.
    const spy = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'jm',
      password: PASSWORD,
      resource: 'spy',
    });
    const received: string[] = [];
    spy.onCommand((message) => {
      received.push(message.command.command);
    });
    await spy.start();
    cleanups.push(() => spy.stop());

    const socketPath = path.join(root, 'docker-proxy.sock');
    const agent = await startAgent(
      agentOptions('agent1', path.join(root, 'agent1'), {
        docker: new Docker({ socketPath }),
        dockerBackoff: { initialMs: 300, maxMs: 600, jitter: 0 },
      }),
    );
    await until(
      'the agent to be online',
      async () => (await agent.commands.getStatus()).connection === 'online',
    );
    await sleep(2500);
    const status = await agent.commands.getStatus();
    expect(status).toMatchObject({
      activity: 'docker-unavailable',
      statusLine: 'No container engine is running',
    });
    expect(status.docker.available).toBe(false);
    expect(received).not.toContain('want_getJob');

    // Docker comes up: a socket proxy to the real daemon appears at the agent's socket path.
    const proxy = net.createServer((client) => {
      const upstream = net.connect('/var/run/docker.sock');
      client.pipe(upstream).pipe(client);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(socketPath, resolve));
    cleanups.push(() => new Promise((resolve) => proxy.close(resolve)));
    await until('want_getJob to reach the manager', () => received.includes('want_getJob'), 15_000);
    const after = await agent.commands.getStatus();
    expect(after.docker.available).toBe(true);
    expect(after.docker.version).toBeTruthy();
  });

  it('an agent restarted mid-job resumes the job in hand from its work dir and delivers it', async () => {
    const manager = await startManager('restart-agent');
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: script('slow.sh', '#!/bin/bash\nsleep 3\necho "3*3" | bc\n'),
    });
    const dataDir = path.join(root, 'agent2');
    const first = await startAgent(agentOptions('agent2', dataDir, { docker }));
    await until('the job to run', async () =>
      (await first.commands.getStatus()).running.some((job) => job.phase === 'running'),
    );
    await first.stop();
    const state = JSON.parse(
      fs.readFileSync(path.join(dataDir, 'jobs', submitted.id, 'job.json'), 'utf8'),
    ) as {
      phase: string;
      jmJobData: string;
    };
    expect(state.phase).toBe('running');
    expect(state.jmJobData).toMatch(/^lease=/);
    expect((await manager.queue.get(submitted.id))?.state).not.toBe('done');

    const second = await startAgent(agentOptions('agent2', dataDir, { docker }));
    const job = await waitForJob(manager.queue, submitted.id, 60_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0 });
    expect(
      fs.readFileSync(path.join(manager.config.doneJobDir, submitted.id, 'stdout'), 'utf8'),
    ).toBe('9\n');
    const history = (await second.commands.getJobs()).history;
    expect(history.map((record) => record.jobId)).toEqual([submitted.id]);
  });

  it('the XMPP server restarting mid-job: the agent reconnects and delivers the result', async () => {
    const manager = await startManager('restart-xmpp');
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: script('slow.sh', '#!/bin/bash\nsleep 4\necho "5*5" | bc\n'),
    });
    const agent = await startAgent(agentOptions('agent3', path.join(root, 'agent3'), { docker }));
    await until('the job to run', async () =>
      (await agent.commands.getStatus()).running.some((job) => job.phase === 'running'),
    );
    await prosody.restart();
    const job = await waitForJob(manager.queue, submitted.id, 90_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0 });
    expect(
      fs.readFileSync(path.join(manager.config.doneJobDir, submitted.id, 'stdout'), 'utf8'),
    ).toBe('25\n');
  });
});
