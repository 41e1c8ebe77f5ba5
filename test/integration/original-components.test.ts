// Our components against stand-ins for the original 2011 Perl ones (test/fixtures/original,
// written from cernvm/copilot's Agent.pm and Generic.pm), over a real Prosody and chirp_server:
// the original manager drives our agent (jobs in Docker), and the original agent (real chirp_get,
// chirp_put and tar) completes a job with our manager over HTTP and over Chirp storage.
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
  startProsody,
  type ChirpServer,
  type ProsodyServer,
} from '@test/harness';
import { createAgent, type Agent } from '@copilot/core/agent';
import { extractArchiveSafely } from '@copilot/protocol/safe-archive';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { OriginalAgent } from '@test/fixtures/original/original-agent';
import { OriginalContainer } from '@test/fixtures/original/original-container';
import { OriginalManager } from '@test/fixtures/original/original-manager';
import { MANAGER_PASSWORD, localAgentSettings, localManagerValues } from './local-settings';

const PASSWORD = 'agent-secret';
/** Listing 4.21. */
const CALCULATOR = '#!/bin/bash\n\necho "2+2" | bc\n';

let prosody: ProsodyServer;
let chirp: ChirpServer;
let docker: Docker;
let root: string;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startProsody({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      ...['orig-jm', 'cooldown-jm', 'agent1', 'orig-agent'].map((username) => ({
        username,
        password: PASSWORD,
      })),
    ],
  });
  chirp = await startChirp();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'original-components-'));
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

afterAll(async () => {
  await prosody?.stop();
  await chirp?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

function calculatorFile(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'calculator.sh');
  fs.writeFileSync(file, CALCULATOR, { mode: 0o755 });
  return file;
}

async function container(username: string, resource: string): Promise<OriginalContainer> {
  const opened = await OriginalContainer.connect(
    prosody,
    { username, password: PASSWORD },
    resource,
  );
  stops.push(() => opened.stop());
  return opened;
}

async function ourManager(name: string, extra: Record<string, string>): Promise<RunningJobManager> {
  const config = loadJobManagerConfig(
    [],
    localManagerValues(prosody, path.join(root, name), { JM_LEASE_SECONDS: '600', ...extra }),
  );
  const manager = await startJobManager(config, { session: { ackTimeoutMs: 1000 } });
  stops.push(() => manager.stop());
  return manager;
}

async function ourAgent(jobManager: string): Promise<Agent> {
  const agent = createAgent({
    settings: localAgentSettings(prosody, 'agent1', PASSWORD, {
      jobManagerAddress: jobManager,
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
  stops.push(() => agent.stop());
  await agent.start();
  return agent;
}

async function tarEntries(archive: string): Promise<string[]> {
  const entries: string[] = [];
  await listTar({ file: archive, onReadEntry: (entry) => entries.push(entry.path) });
  return entries;
}

describe('the original Perl manager drives our agent over Chirp', () => {
  it('gets <jobID>.tgz with ./stdout = 4 in its done dir', async () => {
    const jm = await container('orig-jm', 'firstcopilotjm');
    const doneJobDir = path.join(root, 'orig-done');
    const original = new OriginalManager({
      container: jm,
      chirpDir: chirp.rootDir,
      chirpServer: chirp.address,
      doneJobDir,
    });
    const jobID = original.submit(calculatorFile(path.join(root, 'orig-src')), chirp.address);
    await ourAgent(prosody.jid('orig-jm'));

    const report = await original.waitForDone(jobID, 90_000);
    expect(report).toMatchObject({ jobID, exitCode: '0', state: 'done' });
    if (report.archive === undefined) throw new Error('no <jobID>.tgz in the Chirp output dir');
    expect(path.dirname(path.dirname(report.archive))).toBe(doneJobDir);
    expect(await tarEntries(report.archive)).toEqual(['./stdout', './stderr']);
    const unpacked = fs.mkdtempSync(path.join(root, 'unpacked-'));
    await extractArchiveSafely(report.archive, unpacked);
    expect(fs.readFileSync(path.join(unpacked, 'stdout'), 'utf8')).toBe('4\n');
    // Nothing but the bundle was put in the output dir: the original manager reads nothing else.
    expect(fs.readdirSync(path.join(chirp.rootDir, jobID)).sort()).toEqual([
      '.__acl',
      'calculator.sh',
    ]);
  });
});

describe("the original manager's RequestCooldown", () => {
  it('our agent asks no more while the sleep it was answered with lasts', async () => {
    const jm = await container('cooldown-jm', 'firstcopilotjm');
    const original = new OriginalManager({
      container: jm,
      chirpDir: chirp.rootDir,
      chirpServer: chirp.address,
      doneJobDir: path.join(root, 'cooldown-done'),
      requestCooldownSeconds: 60,
    });
    await ourAgent(prosody.jid('cooldown-jm'));
    const deadline = Date.now() + 20_000;
    while (original.sleepsSent === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(original.sleepsSent).toBe(1);
    const asked = original.wantGetJobs;
    // The agent's own back-off is 0.3 to 1.5 s: without the sleep it would ask again by now.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(original.wantGetJobs).toBe(asked);
  });
});

describe('the original Perl agent completes a job with our manager', () => {
  async function runOriginalAgent(
    manager: RunningJobManager,
    transfer: 'chirp' | 'http',
  ): Promise<string> {
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: calculatorFile(path.join(root, `${transfer}-src`)),
    });
    const agent = new OriginalAgent({
      container: await container('orig-agent', `copilot-${transfer}`),
      jobManager: prosody.jid('jm'),
      workDir: path.join(root, `orig-agent-${transfer}`),
      transfer,
    });
    const finished = await agent.start();
    expect(finished).toMatchObject({ jobID: submitted.id, exitCode: 0 });
    // The original's own tar: ./, ./stdout, ./_wrapper_.sh, the input…
    expect(await tarEntries(finished.bundle)).toEqual(
      expect.arrayContaining(['./', './stdout', './stderr', './resources', './_wrapper_.sh']),
    );
    const job = await waitForJob(manager.queue, submitted.id, 30_000);
    expect(job).toMatchObject({ state: 'done', exitCode: 0, agentState: 'ready' });
    const done = path.join(manager.config.doneJobDir, submitted.id);
    expect(fs.readFileSync(path.join(done, 'stdout'), 'utf8')).toBe('4\n');
    expect((await tarEntries(path.join(done, `${submitted.id}.tgz`))).sort()).toEqual(
      ['_wrapper_.sh', 'calculator.sh', 'resources', 'stderr', 'stdout'].map(
        (name) => `${submitted.id}/${name}`,
      ),
    );
    return submitted.id;
  }

  it('over HTTP storage: PUT <outputDir>/<jobID>.tgz, unpacked at jobDone', async () => {
    const manager = await ourManager('orig-http', {});
    await runOriginalAgent(manager, 'http');
  });

  it('over Chirp storage (JM_CHIRP_ORIGINAL_AGENTS): chirp_put <jobID>/<jobID>.tgz', async () => {
    const manager = await ourManager('orig-chirp', {
      JM_CHIRP_SERVER: chirp.address,
      JM_CHIRP_WORK_DIR: chirp.rootDir,
      JM_CHIRP_ORIGINAL_AGENTS: 'yes',
    });
    const id = await runOriginalAgent(manager, 'chirp');
    expect(fs.readdirSync(chirp.rootDir).filter((name) => name.startsWith(id))).toEqual([]);
  });
});
