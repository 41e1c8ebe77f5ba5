// The job cycle over Chirp storage (report 4.1.2, listing 4.1): our manager with JM_CHIRP_SERVER
// and JM_CHIRP_WORK_DIR hands out per-lease Chirp directories on a real chirp_server, our agent
// fetches and uploads through it, jobs run in Docker; and the directories go when a lease does.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { list as listTar } from 'tar';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import {
  ensureDocker,
  startChirp,
  startTestXmppServer,
  startSession,
  type ChirpServer,
  type XmppServer,
  until,
} from '@test/harness';
import { createAgent, type Agent } from '@copilot/core/agent';
import type { CopilotSession } from '@copilot/transport';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { cancelJob, submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { ScriptedAgent } from '@test/fixtures/hostile/scripted-agent';
import { MANAGER_PASSWORD, localAgentSettings, localManagerValues } from './local-settings';

const PASSWORD = 'agent-secret';
let prosody: XmppServer;
let chirp: ChirpServer;
let docker: Docker;
let root: string;
const agents: Agent[] = [];
const managers: RunningJobManager[] = [];
const sessions: CopilotSession[] = [];

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      { username: 'agent1', password: PASSWORD },
      { username: 'scripted', password: PASSWORD },
    ],
  });
  chirp = await startChirp();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'chirp-job-cycle-'));
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  for (const session of sessions.splice(0)) await session.stop();
  for (const manager of managers.splice(0)) await manager.stop();
});

afterAll(async () => {
  await prosody?.stop();
  await chirp?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function startManager(name: string, extra: Record<string, string> = {}) {
  const config = loadJobManagerConfig(
    [],
    localManagerValues(prosody, path.join(root, name), {
      JM_CHIRP_SERVER: chirp.address,
      JM_CHIRP_WORK_DIR: chirp.rootDir,
      JM_LEASE_SECONDS: '600',
      ...extra,
    }),
  );
  const manager = await startJobManager(config, {
    session: { ackTimeoutMs: 1000 },
    reaperIntervalMs: 200,
  });
  managers.push(manager);
  return manager;
}

function calculator(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'calculator.sh');
  // Listing 4.21, plus one output file.
  fs.writeFileSync(file, '#!/bin/bash\necho "2+2" | bc\necho 6 > output/result.txt\n', {
    mode: 0o755,
  });
  return file;
}

/** The job's entries in the Chirp root (its lease directories). */
function chirpDirsOf(jobId: string): string[] {
  return fs.readdirSync(chirp.rootDir).filter((name) => name.startsWith(jobId));
}

describe('Chirp storage: our manager and our agent on a real chirp_server', () => {
  it('runs calculator.sh: the done dir holds 4 (listing 4.23), the lease dirs are gone', async () => {
    const manager = await startManager('calc');
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: calculator(path.join(root, 'calc-src')),
    });
    const agent = createAgent({
      settings: localAgentSettings(prosody, 'agent1', PASSWORD, {
        cpuLimitPercent: 100,
        memoryLimitMb: 256,
        diskLimitMb: 200,
      }),
      dataDir: path.join(root, `agent1-${crypto.randomBytes(3).toString('hex')}`),
      docker,
      replyTimeoutMs: 3000,
      fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
      retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
      session: { ackTimeoutMs: 1000 },
    });
    agents.push(agent);
    await agent.start();

    const job = await waitForJob(manager.queue, submitted.id, 90_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done' });
    expect(job?.note).toBeUndefined();
    const done = path.join(manager.config.doneJobDir, submitted.id);
    expect(fs.readFileSync(path.join(done, 'stdout'), 'utf8')).toBe('4\n');
    const entries: string[] = [];
    await listTar({
      file: path.join(done, `${submitted.id}.tgz`),
      onReadEntry: (entry) => entries.push(entry.path),
    });
    expect(entries.sort()).toEqual(
      ['result.txt', 'stderr', 'stdout'].map((name) => `${submitted.id}/${name}`),
    );

    // Over Chirp: inputs fetched from the lease's input dir, one <jobID>.tgz put in its output dir.
    const log = fs.readFileSync(chirp.process.logPath, 'utf8');
    const lease = `/${submitted.id}\\.[A-Za-z0-9_-]{32}`;
    expect(log).toMatch(new RegExp(`getfile ${lease}/input/calculator\\.sh`));
    expect(log).toMatch(new RegExp(`putfile ${lease}/output/${submitted.id}\\.tgz`));
    expect(log).not.toMatch(new RegExp(`putfile ${lease}/output/stdout`));
    expect(chirpDirsOf(submitted.id)).toEqual([]);
  });

  async function leaseTo(name: string, manager: RunningJobManager, id: string) {
    const session = await startSession(
      prosody,
      { username: 'scripted', password: PASSWORD, resource: name },
      sessions,
    );
    const agent = new ScriptedAgent(session, prosody.jid('jm'));
    await agent.wantJob();
    const runJob = await agent.getJob();
    expect(runJob.job).toMatchObject({ id, chirpUrl: chirp.address });
    expect(runJob.job.inputDir).toMatch(new RegExp(`^/${id}\\.[A-Za-z0-9_-]{32}/input$`));
    expect(chirpDirsOf(id)).toHaveLength(1);
    return runJob;
  }

  it('removes the lease dirs when the lease expires (the job is queued again)', async () => {
    const manager = await startManager('expiry', { JM_LEASE_SECONDS: '1' });
    const script = calculator(path.join(root, 'expiry-src'));
    const job = await submitJob(manager.queue, manager.paths, { commandFile: script });
    await leaseTo('expiry', manager, job.id);
    // The agent goes silent: the lease runs out and the reaper takes the job back.
    await until('the lease dirs to go', () => chirpDirsOf(job.id).length === 0, 20_000);
    expect((await manager.queue.get(job.id))?.state).toBe('queued');
  });

  it('removes the lease dirs of a job an operator cancels', async () => {
    const manager = await startManager('cancel');
    const script = calculator(path.join(root, 'cancel-src'));
    const job = await submitJob(manager.queue, manager.paths, { commandFile: script });
    await leaseTo('cancel', manager, job.id);
    await cancelJob(manager.queue, job.id);
    await until('the sweep after the cancel', () => chirpDirsOf(job.id).length === 0, 20_000);
  });
});
