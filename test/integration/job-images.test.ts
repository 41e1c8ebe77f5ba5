// Jobs that name their own image (runJob's `image`, pinned by digest), on real servers: Prosody,
// Redis, the Generic Job Manager, the agent with the real dockerd, and a real registry on
// loopback (Debian's docker-registry). The image is the CernVM-like one the project builds
// (assets/job-image/build-cernvm-image.sh: Debian with python3), with a layer of its own on
// top so that the agent has bytes to pull. Each test runs on both engines: the machine's dockerd
// and a real Podman (the harness's startPodman, its Docker-compatible API; its registries.conf
// marks the loopback registry insecure, as dockerd does for 127.0.0.0/8 by itself).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import {
  REPO_ROOT,
  ensureDocker,
  pushImage,
  removeLocalImage,
  runCommand,
  startTestXmppServer,
  startRedis,
  startPodman,
  startRegistry,
  type PodmanServer,
  type XmppServer,
  type RedisServer,
  type RegistryServer,
} from '@test/harness';
import { createAgent, type Agent } from '@copilot/core/agent';
import type { AgentOptions } from '@copilot/core/agent-options';
import { hostContainerEngine } from '@copilot/core/docker-socket';
import { IMAGE_RECORD_FILE } from '@copilot/core/image-cache';
import type { ImagePullProgress, JobHistoryRecord } from '@copilot/contract/ui-contract';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import type { JobRecord } from '@manager/job-manager/job-record';
import { managerConfigFor } from './agent-manager-fixture';
import { localAgentSettings } from './local-settings';

const PASSWORD = 'secret-pw';
const BASE_IMAGE = 'copilot-job-cernvm:latest';
const BUILD_SCRIPT = path.join(REPO_ROOT, 'assets', 'job-image', 'build-cernvm-image.sh');

let prosody: XmppServer;
let redis: RedisServer;
let registry: RegistryServer;
let docker: Docker;
let podman: PodmanServer;
let root: string;
/** The CernVM-like image with a 2 MB layer of its own, in the registry only. */
let pinned: string;
/** Another such image, whose manifest the registry is then made to lie about. */
let tampered: string;
const agents: Agent[] = [];
const managers: RunningJobManager[] = [];

const ENGINES = ['docker', 'podman'] as const;
type EngineName = (typeof ENGINES)[number];

/** The engine's own client, to look at its images and containers. */
function clientOf(engine: EngineName): Docker {
  return engine === 'docker' ? docker : podman.docker;
}

/** How the agent is given the engine: dockerd's client, or Podman found through DOCKER_HOST. */
function agentEngine(engine: EngineName): Pick<AgentOptions, 'docker' | 'engine'> {
  return engine === 'docker'
    ? { docker }
    : { engine: hostContainerEngine({ DOCKER_HOST: podman.dockerHost }) };
}

/** A new image: the base image plus one layer with `bytes` random bytes, committed locally. */
async function layeredImage(name: string, bytes: number): Promise<string> {
  const container = `copilot-layer-${crypto.randomBytes(4).toString('hex')}`;
  await runCommand('docker', [
    'run',
    '--name',
    container,
    '--user',
    '1000:1000',
    BASE_IMAGE,
    'bash',
    '-c',
    `head -c ${bytes} /dev/urandom > /home/copilot/${name}.bin`,
  ]);
  const tag = `copilot-test-${name}:${crypto.randomBytes(4).toString('hex')}`;
  try {
    await runCommand('docker', ['commit', container, tag]);
  } finally {
    await runCommand('docker', ['rm', '-f', container]).catch(() => undefined);
  }
  return tag;
}

/** Pushes the image and removes every local name of it: only a pull brings it back. */
async function publish(name: string): Promise<string> {
  const local = await layeredImage(name, 2 * 1024 * 1024);
  const reference = await pushImage(registry, local, `copilot/${name}`);
  await runCommand('docker', ['rmi', local]);
  await removeLocalImage(reference);
  return reference;
}

beforeAll(async () => {
  docker = await ensureDocker();
  // Cached by its recipe label: instant when setup.sh built it already.
  await runCommand('bash', [BUILD_SCRIPT, BASE_IMAGE], { timeoutMs: 600_000 });
  prosody = await startTestXmppServer({
    users: ['jm', 'agent1', 'agent2'].map((username) => ({ username, password: PASSWORD })),
  });
  redis = await startRedis();
  registry = await startRegistry();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'job-images-'));
  pinned = await publish('cernvm');
  tampered = await publish('tampered');
  podman = await startPodman({ insecureRegistries: [registry.host] });
}, 900_000);

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  for (const manager of managers.splice(0)) await manager.stop();
});

afterAll(async () => {
  for (const reference of [pinned, tampered]) if (reference) await removeLocalImage(reference);
  await podman?.stop();
  await registry?.stop();
  await prosody?.stop();
  await redis?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function startManager(name: string): Promise<RunningJobManager> {
  const config = managerConfigFor({
    prosody,
    username: 'jm',
    password: PASSWORD,
    stateDir: path.join(root, name),
    redisUrl: redis.url,
  });
  const manager = await startJobManager(config, {
    session: { ackTimeoutMs: 1000 },
    redisNamespace: `job-images-${name}`,
  });
  managers.push(manager);
  return manager;
}

async function startAgent(engine: EngineName, user: string, allowed: string): Promise<Agent> {
  const agent = createAgent({
    settings: localAgentSettings(prosody, user, PASSWORD, {
      cpuLimitPercent: 100,
      memoryLimitMb: 256,
      diskLimitMb: 200,
      allowedImageRegistries: allowed,
    }),
    dataDir: path.join(root, `${user}-${crypto.randomBytes(3).toString('hex')}`),
    ...agentEngine(engine),
    replyTimeoutMs: 3000,
    fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
    retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000 },
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

function script(name: string, text: string): string {
  const dir = path.join(root, 'src');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

async function finished(manager: RunningJobManager, id: string): Promise<JobRecord> {
  const job = await waitForJob(manager.queue, id, 180_000);
  if (!job) throw new Error(`job ${id} did not finish`);
  return job;
}

function historyOf(agent: Agent, jobId: string): Promise<JobHistoryRecord> {
  return new Promise((resolve) => {
    const listener = (record: JobHistoryRecord): void => {
      if (record.jobId !== jobId) return;
      agent.events.off('job', listener);
      resolve(record);
    };
    agent.events.on('job', listener);
  });
}

function doneFile(manager: RunningJobManager, jobId: string, name: string): string {
  return fs.readFileSync(path.join(manager.config.doneJobDir, jobId, name), 'utf8');
}

/**
 * Whether the engine has an image under that name (`repo@sha256:…` among its RepoDigests): not
 * an inspect, since Podman finds an image by its digest alone, under any repository's name.
 */
async function isLocal(engine: EngineName, reference: string): Promise<boolean> {
  const images = await clientOf(engine).listImages();
  return images.some((image) => (image.RepoDigests ?? []).includes(reference));
}

/** The registry's log so far: a mark for registryRequests. */
function registryLog(): string {
  return registry.process.logTail(1_000_000);
}

/** The registry's request log lines that name `repository`, after the mark `since`. */
function registryRequests(repository: string, since: string): string[] {
  return registryLog()
    .slice(since.length)
    .split('\n')
    .filter((line) => line.includes(`/v2/${repository}/`));
}

describe.each(ENGINES)('job images pulled by digest from a registry on loopback (%s)', (engine) => {
  it('pulls the job image by digest, shows the pull, and runs the job in it (python3 answers)', async () => {
    const manager = await startManager(`${engine}-pulled`);
    const mark = registryLog();
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: script(
        'py.sh',
        "#!/bin/bash\npython3 -c 'import platform; print(6 * 7, platform.python_version())'\n" +
          'test -s /home/copilot/cernvm.bin && echo layer-present\n',
      ),
      image: pinned,
    });
    const agent = await startAgent(engine, 'agent1', `${registry.host}/copilot`);
    const pulls: ImagePullProgress[] = [];
    agent.events.on('status', (status) => {
      for (const job of status.running)
        if (job.phase === 'pulling' && job.pull) pulls.push(job.pull);
    });
    const record = historyOf(agent, submitted.id);
    const job = await finished(manager, submitted.id);
    expect(job).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done', image: pinned });
    expect(doneFile(manager, submitted.id, 'stdout')).toMatch(/^42 3\.11\.\d+\nlayer-present\n$/);
    expect(await record).toMatchObject({ state: 'done', exitCode: 0 });
    // pulled by its digest: the engine has it under that reference, and the agent recorded it
    expect(await isLocal(engine, pinned)).toBe(true);
    const records = JSON.parse(
      fs.readFileSync(path.join(agent.dataDir, IMAGE_RECORD_FILE), 'utf8'),
    ) as Record<string, { sizeBytes: number }>;
    expect(Object.keys(records)).toEqual([pinned]);
    expect(registryRequests('copilot/cernvm', mark).join('\n')).toContain(
      `/v2/copilot/cernvm/manifests/${pinned.split('@')[1] ?? ''}`,
    );
    // the UI saw the pull under way, with the image's bytes
    expect(pulls.length).toBeGreaterThan(0);
    expect(pulls.every((pull) => pull.image === pinned)).toBe(true);
    if (engine === 'docker') {
      expect(Math.max(...pulls.map((pull) => pull.currentBytes))).toBeGreaterThan(0);
    }
  }, 300_000);

  it('refuses a job whose registry is not allowed before pulling anything, with a jobDone the manager records', async () => {
    const manager = await startManager(`${engine}-refused`);
    const mark = registryLog();
    const elsewhere = `${registry.host}/elsewhere/job@${pinned.split('@')[1] ?? ''}`;
    const submitted = await submitJob(manager.queue, manager.paths, {
      commandFile: script('never.sh', '#!/bin/bash\necho should-not-run\n'),
      image: elsewhere,
    });
    const agent = await startAgent(engine, 'agent2', `${registry.host}/copilot`);
    const record = historyOf(agent, submitted.id);
    const job = await finished(manager, submitted.id);
    expect(job).toMatchObject({ state: 'failed', exitCode: -1, agentState: 'image-refused' });
    const stderr = doneFile(manager, submitted.id, 'stderr');
    expect(stderr).toContain(
      `the job's image ${elsewhere} was refused: its registry is not one this computer allows (${registry.host}/copilot)`,
    );
    expect(doneFile(manager, submitted.id, 'stdout')).toBe('');
    const history = await record;
    expect(history).toMatchObject({ state: 'image-refused', startedAt: null });
    expect(history.error).toMatch(/is not one this computer allows/);
    // nothing was asked of the registry, and nothing was pulled or made
    expect(registryRequests('elsewhere/job', mark)).toEqual([]);
    expect(await isLocal(engine, elsewhere)).toBe(false);
    const containers = await clientOf(engine).listContainers({
      all: true,
      filters: { label: [`copilot.job=${submitted.id}`] },
    });
    expect(containers).toEqual([]);
    // the event log says it, for the volunteer
    const log = await agent.commands.getLog(200);
    expect(log.some((entry) => /image refused/.test(entry.message))).toBe(true);
  }, 300_000);

  it('refuses a digest the registry does not have, and one whose content the registry lies about', async () => {
    const manager = await startManager(`${engine}-mismatch`);
    const missing = `${registry.host}/copilot/cernvm@sha256:${'0'.repeat(64)}`;
    // The registry now serves other bytes under the tampered image's manifest digest.
    const digest = (tampered.split('@')[1] ?? '').slice('sha256:'.length);
    const blob = path.join(
      registry.storageDir,
      'docker/registry/v2/blobs/sha256',
      digest.slice(0, 2),
      digest,
      'data',
    );
    const manifest = JSON.parse(fs.readFileSync(blob, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(blob, JSON.stringify({ ...manifest, annotations: { forged: 'yes' } }));
    const absent = await submitJob(manager.queue, manager.paths, {
      commandFile: script('absent.sh', '#!/bin/bash\necho should-not-run\n'),
      image: missing,
    });
    const lying = await submitJob(manager.queue, manager.paths, {
      commandFile: script('lying.sh', '#!/bin/bash\necho should-not-run\n'),
      image: tampered,
    });
    await startAgent(engine, 'agent1', registry.host);
    const absentJob = await finished(manager, absent.id);
    expect(absentJob).toMatchObject({ state: 'failed', agentState: 'image-refused' });
    expect(doneFile(manager, absent.id, 'stderr')).toMatch(
      new RegExp(`the image ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} could not be pulled`),
    );
    const lyingJob = await finished(manager, lying.id);
    expect(lyingJob).toMatchObject({ state: 'failed', agentState: 'image-refused' });
    expect(doneFile(manager, lying.id, 'stderr')).toMatch(
      // The engine checks the manifest it is served against the digest (so does the agent,
      // after): dockerd's and Podman's (containers/image) words for it.
      /could not be pulled: (manifest verification failed for digest|.*Manifest does not match provided manifest digest)|does not have the digest/,
    );
    expect(doneFile(manager, lying.id, 'stdout')).toBe('');
    expect(await isLocal(engine, tampered)).toBe(false);
  }, 300_000);
});
