// The headless copilot-agent as a process (tsx src/cli/copilot-agent.ts --config FILE) against
// the real manager over Prosody and Docker, driven through its GUI RPC.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDocker,
  freePort,
  REPO_ROOT,
  startTestXmppServer,
  startRedis,
  type XmppServer,
  type RedisServer,
} from '@test/harness';
import type { AgentStatus, JobsView } from '@copilot/contract/ui-contract';
import { RPC_TOKEN_HEADER } from '@copilot/contract/ui-contract';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { managerConfigFor } from './agent-manager-fixture';

const PASSWORD = 'pw-headless';
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'src', 'cli', 'copilot-agent.ts');
let prosody: XmppServer;
let redis: RedisServer;
let manager: RunningJobManager;
let root: string;

beforeAll(async () => {
  await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['jm', 'agent'].map((username) => ({ username, password: PASSWORD })),
  });
  redis = await startRedis();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-headless-'));
  manager = await startJobManager(
    managerConfigFor({
      prosody,
      username: 'jm',
      password: PASSWORD,
      stateDir: path.join(root, 'jm'),
      redisUrl: redis.url,
    }),
    { session: { ackTimeoutMs: 1000 }, redisNamespace: 'agent-headless' },
  );
});

afterAll(async () => {
  await manager?.stop();
  await prosody?.stop();
  await redis?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

function runCli(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  let output = '';
  const child = spawn(TSX, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, AGENT_JOB_SLOTS: undefined },
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, output: () => output, exited };
}

describe('copilot-agent (headless)', () => {
  it('refuses a config without JM_JABBER_ADDRESS, naming it, with exit code 2', async () => {
    const file = path.join(root, 'broken.conf');
    fs.writeFileSync(
      file,
      `AGENT_JABBER_SERVER 127.0.0.1\nAGENT_JABBER_DOMAIN localhost\nAGENT_JABBER_ID a\nAGENT_JABBER_PASSWORD p\nAGENT_WORK_DIR ${root}/w\n`,
    );
    const run = runCli(['--config', file]);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/copilot-agent: JM_JABBER_ADDRESS must be set/);
  });

  it('runs calculator.sh from a config file, serves the UI contract over GUI RPC, stops on SIGTERM', async () => {
    const workDir = path.join(root, 'work');
    const port = await freePort();
    const file = path.join(root, 'copilot-agent.conf');
    fs.writeFileSync(
      file,
      [
        '# test agent',
        `JM_JABBER_ADDRESS ${prosody.jid('jm')}`,
        `AGENT_JABBER_SERVER 127.0.0.1:${prosody.port}`,
        `AGENT_JABBER_DOMAIN ${prosody.domain}`,
        'AGENT_JABBER_ID agent',
        `AGENT_JABBER_PASSWORD ${PASSWORD}`,
        `AGENT_WORK_DIR ${workDir}`,
        'AGENT_CPU_LIMIT_PERCENT 50',
        'AGENT_MEMORY_LIMIT_MB 256',
        `AGENT_GUI_RPC_PORT ${port}`,
        '',
      ].join('\n'),
    );
    const source = path.join(root, 'src', 'calculator.sh');
    fs.mkdirSync(path.dirname(source), { recursive: true });
    fs.writeFileSync(source, '#!/bin/bash\necho "2+2" | bc\n', { mode: 0o755 });
    const submitted = await submitJob(manager.queue, manager.paths, { commandFile: source });

    const run = runCli(['--config', file]);
    try {
      const tokenFile = path.join(workDir, 'gui-rpc-token');
      const deadline = Date.now() + 30_000;
      while (!fs.existsSync(tokenFile)) {
        if (Date.now() > deadline) throw new Error(`no GUI RPC token; output:\n${run.output()}`);
        await sleep(100);
      }
      await sleep(200);
      const token = fs.readFileSync(tokenFile, 'utf8').trim();
      const call = async <T>(command: string, args: unknown[] = []): Promise<T> => {
        const response = await fetch(`http://127.0.0.1:${port}/api/${command}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [RPC_TOKEN_HEADER]: token },
          body: JSON.stringify(args),
        });
        expect(response.status).toBe(200);
        return (await response.json()) as T;
      };
      const refused = await fetch(`http://127.0.0.1:${port}/api/getStatus`, {
        method: 'POST',
        body: '[]',
      });
      expect(refused.status).toBe(401);

      const job = await waitForJob(manager.queue, submitted.id, 60_000);
      expect(job).toMatchObject({ state: 'done', exitCode: 0 });
      expect(fs.readFileSync(path.join(root, 'jm', 'done', submitted.id, 'stdout'), 'utf8')).toBe(
        '4\n',
      );
      let jobs = await call<JobsView>('getJobs');
      for (let i = 0; i < 50 && jobs.history.length === 0; i += 1) {
        await sleep(100);
        jobs = await call<JobsView>('getJobs');
      }
      expect(jobs.history[0]).toMatchObject({ jobId: submitted.id, state: 'done', exitCode: 0 });
      const status = await call<AgentStatus>('getStatus');
      expect(status).toMatchObject({
        connection: 'online',
        cpuShare: 0.5,
        jobManager: prosody.jid('jm'),
      });
      expect(status.docker.available).toBe(true);
      const timed = await call<AgentStatus>('pause', [10]);
      expect(timed).toMatchObject({ activity: 'paused', paused: true });
      expect(timed.pausedUntil).not.toBeNull();
      // a timed pause is not a setting; an indefinite one is, kept in the overlay file
      const overlay = path.join(workDir, 'agent-settings.json');
      expect(fs.existsSync(overlay)).toBe(false);
      await call<AgentStatus>('pause');
      expect(JSON.parse(fs.readFileSync(overlay, 'utf8'))).toMatchObject({ paused: true });
      const resumed = await call<AgentStatus>('resume');
      expect(resumed.paused).toBe(false);
      expect(JSON.parse(fs.readFileSync(overlay, 'utf8'))).toMatchObject({ paused: false });
      expect(run.output()).toMatch(/\[info\] \[agent\] job complete/);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/SIGTERM, stopping/);
  });
});
