// Podman instead of Docker (issue #15): a real `podman system service` (the harness's
// startPodman, its own storage), found by the agent through DOCKER_HOST and through rootless
// Podman's place under XDG_RUNTIME_DIR, runs real jobs from the real Generic Job Manager over a
// real Prosody; and the runner's engine-specific parts (ulimits, live limits) against it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  startPodman,
  startTestXmppServer,
  type PodmanServer,
  type XmppServer,
  until,
} from '@test/harness';
import { createAgent, type Agent } from '@copilot/core/agent';
import { DockerRunner, JOB_LABEL, PODMAN_ULIMITS } from '@copilot/core/docker-runner';
import { hostContainerEngine } from '@copilot/core/docker-socket';
import { containerLimits } from '@copilot/core/resource-policy';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const PASSWORD = 'agent-pw';
let prosody: XmppServer;
let podman: PodmanServer;
let root: string;
const agents: Agent[] = [];
const managers: RunningJobManager[] = [];

beforeAll(async () => {
  podman = await startPodman();
  await podman.loadFromDocker();
  prosody = await startTestXmppServer({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      { username: 'agent1', password: PASSWORD },
      { username: 'agent2', password: PASSWORD },
    ],
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'podman-engine-'));
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  for (const manager of managers.splice(0)) await manager.stop();
});

afterAll(async () => {
  await prosody?.stop();
  await podman?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

function script(dir: string, name: string, text: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

/** A manager and an agent whose engine is looked for with `env`; runs calculator.sh to the end. */
async function calculatorOn(
  name: string,
  user: string,
  env: Record<string, string>,
): Promise<{ agent: Agent; stdout: string; job: unknown }> {
  const config = loadJobManagerConfig([], localManagerValues(prosody, path.join(root, name)));
  const manager = await startJobManager(config, { session: { ackTimeoutMs: 1000 } });
  managers.push(manager);
  const submitted = await submitJob(manager.queue, manager.paths, {
    commandFile: script(
      path.join(root, `${name}-src`),
      'calculator.sh',
      // Which engine ran it shows in the container's environment: Podman sets container=podman.
      '#!/bin/bash\necho "2+2" | bc\n[ "$container" = podman ] && echo podman >&2\n',
    ),
  });
  const agent = createAgent({
    settings: localAgentSettings(prosody, user, PASSWORD, {
      cpuLimitPercent: 100,
      memoryLimitMb: 256,
      diskLimitMb: 200,
    }),
    dataDir: path.join(root, `${name}-agent`),
    engine: hostContainerEngine(env),
    replyTimeoutMs: 3000,
    fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
    retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000 },
  });
  agents.push(agent);
  await agent.start();
  const job = await waitForJob(manager.queue, submitted.id, 90_000);
  if (!job) throw new Error(`job ${submitted.id} did not finish`);
  const done = path.join(manager.config.doneJobDir, submitted.id);
  const stdout = fs.readFileSync(path.join(done, 'stdout'), 'utf8');
  expect(fs.readFileSync(path.join(done, 'stderr'), 'utf8')).toBe('podman\n');
  return { agent, stdout, job };
}

describe('the agent with Podman', () => {
  it('finds Podman through DOCKER_HOST and runs a real job to jobDone with the right result', async () => {
    const { agent, stdout, job } = await calculatorOn('via-docker-host', 'agent1', {
      DOCKER_HOST: podman.dockerHost,
    });
    expect(job).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done' });
    expect(stdout).toBe('4\n');
    const status = await agent.commands.getStatus();
    expect(status.docker).toMatchObject({
      available: true,
      engine: 'podman',
      endpoint: podman.dockerHost,
      version: expect.stringMatching(/^4\./),
    });
    expect(status.docker.message).toMatch(/^Podman 4\./);
    const view = await agent.commands.getJobs();
    expect(view.history[0]).toMatchObject({ state: 'done', exitCode: 0 });
    // The job's container is gone from Podman too.
    expect(
      await podman.docker.listContainers({ all: true, filters: { label: [JOB_LABEL] } }),
    ).toEqual([]);
  });

  it("finds rootless Podman's socket under XDG_RUNTIME_DIR, before the machine's Docker", async () => {
    const { agent, stdout, job } = await calculatorOn('via-xdg', 'agent2', {
      XDG_RUNTIME_DIR: podman.runtimeDir,
    });
    expect(job).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done' });
    expect(stdout).toBe('4\n');
    expect((await agent.commands.getStatus()).docker).toMatchObject({
      engine: 'podman',
      endpoint: podman.dockerHost,
    });
  });

  it('says where it looked when DOCKER_HOST names a Podman socket that is not there', async () => {
    const missing = `unix://${path.join(root, 'none', 'podman.sock')}`;
    const engine = hostContainerEngine({ DOCKER_HOST: missing });
    const runner = new DockerRunner({ engine });
    expect(await runner.probe()).toMatchObject({
      available: false,
      message: `No container engine answers at DOCKER_HOST (${missing})`,
      tried: [`${missing}: no socket`],
      hostPlatform: 'linux',
    });
  });
});

describe('the job sandbox under Podman', () => {
  it('keeps the hardening, sets the ulimits, and changes CPU, memory and pids limits live', async () => {
    const runner = new DockerRunner({
      engine: hostContainerEngine({ DOCKER_HOST: podman.dockerHost }),
      sampleMs: 300,
    });
    expect(await runner.probe()).toMatchObject({ engine: 'podman' });
    const jobRoot = fs.mkdtempSync(path.join(root, 'sandbox-'));
    const dirs = Object.fromEntries(
      ['input', 'output'].map((name) => {
        const dir = path.join(jobRoot, name);
        fs.mkdirSync(dir, { mode: 0o777 });
        fs.chmodSync(dir, 0o777);
        return [name, dir];
      }),
    ) as Record<'input' | 'output', string>;
    const limits = containerLimits(
      { cpuLimitPercent: 50, memoryLimitMb: 256, diskLimitMb: 100, jobSlots: 1 },
      2,
    );
    const probe = [
      'id -u; id -g',
      'grep CapEff /proc/self/status',
      'grep NoNewPrivs /proc/self/status',
      'touch /rootfs-write 2>/dev/null && echo rootfs-writable || echo rootfs-read-only',
      'ulimit -n; ulimit -Hn; ulimit -u',
      'cat /proc/net/dev | grep -c : ',
      'while [ ! -e /work/go ]; do sleep 0.2; done',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
      'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max',
    ].join('\n');
    let containerId = '';
    const running = runner.run(
      {
        jobId: 'sandbox-1',
        image: 'copilot-job:latest',
        argv: ['/bin/bash', '-c', probe],
        env: {},
        network: false,
        inputDir: dirs.input,
        outputDir: dirs.output,
        stdoutPath: path.join(jobRoot, 'stdout'),
        stderrPath: path.join(jobRoot, 'stderr'),
        jobRoot,
        limits,
        wallClockLimitMs: 60_000,
      },
      (id) => {
        containerId = id;
      },
    );
    await until('the job container runs', () => containerId !== '', 30_000);
    const inspected = await podman.docker.getContainer(containerId).inspect();
    expect(inspected.HostConfig).toMatchObject({
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges'],
      Memory: 256 * 1024 * 1024,
      PidsLimit: limits.pidsLimit,
    });
    // Live limits: Podman's own update API, as `podman update` would.
    await runner.update('sandbox-1', {
      ...limits,
      memoryBytes: 128 << 20,
      memorySwapBytes: 128 << 20,
      pidsLimit: 40,
    });
    fs.writeFileSync(path.join(dirs.input, 'go'), '');
    const outcome = await running;
    const stdout = fs.readFileSync(path.join(jobRoot, 'stdout'), 'utf8').trim().split('\n');
    expect(outcome, fs.readFileSync(path.join(jobRoot, 'stderr'), 'utf8')).toMatchObject({
      state: 'done',
      exitCode: 0,
    });
    const nofile = PODMAN_ULIMITS?.find((limit) => limit.Name === 'nofile');
    const nproc = PODMAN_ULIMITS?.find((limit) => limit.Name === 'nproc');
    expect(stdout).toEqual([
      '1000',
      '1000',
      'CapEff:\t0000000000000000',
      'NoNewPrivs:\t1',
      'rootfs-read-only',
      String(nofile?.Soft),
      String(nofile?.Hard),
      String(nproc?.Soft),
      // /proc/net/dev: the header's two lines hold no ':', lo is the only interface.
      '1',
      String(128 << 20),
      '40',
    ]);
  });
});
