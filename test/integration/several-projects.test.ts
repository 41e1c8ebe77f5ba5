// Several projects on one computer (issue #15, BOINC style): the headless copilot-agent (in
// process, as `copilot-agent --config FILE` runs it) attached to two projects on real Prosody,
// each with its own Job Manager and account, runs a job from each in real Docker at once. Over
// the GUI RPC: the CPU the volunteer allows is split by the projects' shares (the containers'
// NanoCpus), a paused project's job is frozen while the other gets all the CPU, and a detached
// project is forgotten.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDocker,
  freePort,
  REPO_ROOT,
  startTestXmppServer,
  startRedis,
  until,
  type XmppServer,
  type RedisServer,
} from '@test/harness';
import type { AgentStatus, JobsView } from '@copilot/contract/ui-contract';
import { RPC_TOKEN_HEADER } from '@copilot/contract/ui-contract';
import { startHeadlessAgent, type RunningAgent } from '@copilot/cli/copilot-agent';
import { addStoredProject } from '@copilot/cli/headless-projects';
import { PROJECTS_FILE } from '@copilot/core/project-store';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { managerConfigFor } from './agent-manager-fixture';

const PASSWORD = 'pw-projects';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
let browser: Browser;
let staticDir: string;
const docker = new Docker();
let prosody: XmppServer;
let redis: RedisServer;
const managers: RunningJobManager[] = [];
let root: string;

beforeAll(async () => {
  await ensureDocker();
  prosody = await startTestXmppServer({
    users: ['jm1', 'jm2', 'agent1', 'agent2'].map((username) => ({
      username,
      password: PASSWORD,
    })),
  });
  redis = await startRedis();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'several-projects-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  staticDir = path.join(root, 'renderer');
  await build({
    configFile: path.join(REPO_ROOT, 'src/renderer/vite.config.ts'),
    build: { outDir: staticDir, emptyOutDir: true, sourcemap: false },
    logLevel: 'warn',
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  for (const name of ['jm1', 'jm2']) {
    const config = managerConfigFor({
      prosody,
      username: name,
      password: PASSWORD,
      stateDir: path.join(root, name),
      redisUrl: redis.url,
    });
    managers.push(
      await startJobManager(config, {
        session: { ackTimeoutMs: 1000 },
        redisNamespace: `several-projects-${name}`,
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const manager of managers) await manager.stop();
  await prosody?.stop();
  await redis?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

async function jobContainer(jobId: string): Promise<Docker.ContainerInspectInfo | undefined> {
  const [info] = await docker.listContainers({
    all: true,
    filters: { label: [`copilot.job=${jobId}`] },
  });
  return info ? docker.getContainer(info.Id).inspect() : undefined;
}

/** The container limit containerLimits gives one job with this part of the 50 % CPU limit. */
function nanoCpus(fraction: number): number {
  return Math.floor(os.cpus().length * 0.5 * fraction * 1000) * 1_000_000;
}

function rpcCaller(workDir: string, port: number) {
  const token = fs.readFileSync(path.join(workDir, 'gui-rpc-token'), 'utf8').trim();
  return async <T>(command: string, args: unknown[] = []): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${port}/api/${command}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [RPC_TOKEN_HEADER]: token },
      body: JSON.stringify(args),
    });
    const body = (await response.json()) as T;
    if (response.status !== 200) throw new Error(`${command}: ${JSON.stringify(body)}`);
    return body;
  };
}

function writeConfig(workDir: string, port: number): string {
  const file = path.join(root, 'copilot-agent.conf');
  fs.writeFileSync(
    file,
    [
      'PROJECT_NAME First',
      `JM_JABBER_ADDRESS ${prosody.jid('jm1')}`,
      `AGENT_JABBER_SERVER 127.0.0.1:${prosody.port}`,
      `AGENT_JABBER_DOMAIN ${prosody.domain}`,
      'AGENT_JABBER_ID agent1',
      `AGENT_JABBER_PASSWORD ${PASSWORD}`,
      `AGENT_WORK_DIR ${workDir}`,
      'AGENT_CPU_LIMIT_PERCENT 50',
      'AGENT_MEMORY_LIMIT_MB 256',
      `AGENT_GUI_RPC_PORT ${port}`,
      `AGENT_GUI_STATIC_DIR ${staticDir}`,
      '',
    ].join('\n'),
  );
  return file;
}

function script(name: string, text: string): string {
  const file = path.join(root, 'src', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

/** The UI over the GUI RPC, on its Projects tab, both projects listed. */
async function projectsPage(running: RunningAgent): Promise<Page> {
  const rpc = running.rpc;
  if (!rpc) throw new Error('no GUI RPC');
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  page.on('pageerror', (error) => process.stderr.write(`[renderer] ${error.message}\n`));
  await page.goto(`${rpc.url}/#token=${encodeURIComponent(rpc.token)}`);
  await page.getByRole('button', { name: 'Projects' }).click();
  await page.getByTestId('project-main').waitFor();
  const cards = page.locator('.project-list > li');
  await until('two project cards', async () => ((await cards.count()) === 2 ? true : undefined));
  const second = cards.nth(1);
  expect(await second.locator('h2').textContent()).toBe('Second');
  expect(await second.getByTestId('project-share').inputValue()).toBe('300');
  expect(await page.getByTestId('project-main').getByTestId('project-cpu').textContent()).toBe(
    'up to 13 % of this computer',
  );
  return page;
}

/** Pause project, in the first project's card; the card then says so. */
async function pauseInUi(page: Page): Promise<void> {
  const card = page.getByTestId('project-main');
  await card.getByTestId('project-pause').click();
  await card.getByTestId('project-resume').waitFor();
  await until('the card to say paused', async () =>
    /paused/i.test((await card.getByTestId('project-state').textContent()) ?? '')
      ? true
      : undefined,
  );
  await page.screenshot({ path: path.join(ARTIFACTS, 'projects-paused.png'), fullPage: true });
}

/** Add a project opens the attach screen; Cancel is back on the Projects tab. */
async function addProjectScreen(page: Page): Promise<void> {
  await page.getByTestId('add-project').click();
  await page.getByTestId('first-run').waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByTestId('projects').waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'projects-list.png'), fullPage: true });
  await page.close();
}

describe('one computer, two projects', () => {
  it('runs a job from each project, splits the CPU by share, pauses one, detaches one', async () => {
    const workDir = path.join(root, 'work');
    const port = await freePort();
    const file = writeConfig(workDir, port);
    // What `copilot-agent --attach LINK` does when a project is attached already.
    const secondId = addStoredProject(workDir, {
      projectName: 'Second',
      jobManagerAddress: prosody.jid('jm2'),
      xmppServer: `127.0.0.1:${prosody.port}`,
      xmppDomain: prosody.domain,
      xmppUsername: 'agent2',
      xmppPassword: PASSWORD,
    });
    const [jm1, jm2] = managers;
    if (!jm1 || !jm2) throw new Error('two managers');
    const command = script('slow-sum.sh', '#!/bin/bash\nsleep 25\necho "2+2" | bc\n');
    const first = await submitJob(jm1.queue, jm1.paths, { commandFile: command });
    const second = await submitJob(jm2.queue, jm2.paths, { commandFile: command });

    let running: RunningAgent | undefined;
    try {
      running = await startHeadlessAgent(['--config', file], {
        ...process.env,
        AGENT_JOB_SLOTS: undefined,
      });
      const call = rpcCaller(workDir, port);
      const both = await until(
        'both projects to run their job',
        async () => {
          const status = await call<AgentStatus>('getStatus');
          const busy = status.projects?.filter((p) => p.jobs.running === 1) ?? [];
          return busy.length === 2 ? status : undefined;
        },
        60_000,
      );
      expect(both.projects?.map((p) => [p.id, p.name, p.manager, p.share])).toEqual([
        ['main', 'First', prosody.jid('jm1'), 100],
        [secondId, 'Second', prosody.jid('jm2'), 100],
      ]);
      expect(both.projects?.map((p) => p.jid?.split('/')[0])).toEqual([
        prosody.jid('agent1'),
        prosody.jid('agent2'),
      ]);
      expect(both.running.map((job) => job.project).sort()).toEqual(['First', 'Second']);
      // Each project's jobs carry its own agent label.
      const [a, b] = await until('both containers', async () => {
        const pair = [await jobContainer(first.id), await jobContainer(second.id)];
        return pair[0] && pair[1] ? pair : undefined;
      });
      expect(a?.Config.Labels['copilot.agent']).toMatch(/^[0-9a-f]{12}$/);
      expect(a?.Config.Labels['copilot.agent']).not.toBe(b?.Config.Labels['copilot.agent']);

      // Shares 100:300 of the 50 % the volunteer allows: a quarter and three quarters.
      const shared = await call<AgentStatus>('setProjectShare', [secondId, 300]);
      expect(shared.projects?.[1]?.share).toBe(300);
      await until('the CPU split 1:3', async () => {
        const [x, y] = [await jobContainer(first.id), await jobContainer(second.id)];
        return x?.HostConfig.NanoCpus === nanoCpus(0.25) &&
          y?.HostConfig.NanoCpus === nanoCpus(0.75)
          ? true
          : undefined;
      });

      // The first project paused in the UI: its job frozen, the second one has all the CPU.
      const page = await projectsPage(running);
      await pauseInUi(page);
      await until('the first job frozen, the second at the full limit', async () => {
        const [x, y] = [await jobContainer(first.id), await jobContainer(second.id)];
        return x?.State.Paused === true && y?.HostConfig.NanoCpus === nanoCpus(1)
          ? true
          : undefined;
      });
      expect((await call<AgentStatus>('getStatus')).projects?.[0]).toMatchObject({
        activity: 'paused',
        paused: true,
      });
      await page.getByTestId('project-main').getByTestId('project-resume').click();
      await until('the first project resumed', async () =>
        (await call<AgentStatus>('getStatus')).projects?.[0]?.paused === false ? true : undefined,
      );
      await addProjectScreen(page);

      for (const [manager, job] of [
        [jm1, first],
        [jm2, second],
      ] as const) {
        expect(await waitForJob(manager.queue, job.id, 120_000)).toMatchObject({
          state: 'done',
          exitCode: 0,
        });
      }
      expect(fs.readFileSync(path.join(root, 'jm1', 'done', first.id, 'stdout'), 'utf8')).toBe(
        '4\n',
      );
      expect(fs.readFileSync(path.join(root, 'jm2', 'done', second.id, 'stdout'), 'utf8')).toBe(
        '4\n',
      );
      const jobs = await until('both jobs in the history', async () => {
        const view = await call<JobsView>('getJobs');
        return view.history.length === 2 ? view : undefined;
      });
      expect(jobs.history.map((job) => [job.jobId, job.project, job.state]).sort()).toEqual(
        [
          [first.id, 'First', 'done'],
          [second.id, 'Second', 'done'],
        ].sort(),
      );
      expect(jobs.totals.jobs).toBe(2);

      // Detached: the project, its directory and its password are gone; the first stays.
      const projectDir = path.join(workDir, 'projects', secondId);
      expect(fs.existsSync(projectDir)).toBe(true);
      await call<AgentStatus>('detachProject', [secondId, 'finish']);
      await until('the second project detached', async () => {
        const status = await call<AgentStatus>('getStatus');
        return status.projects?.length === 1 ? true : undefined;
      });
      expect(fs.existsSync(projectDir)).toBe(false);
      const stored = fs.readFileSync(path.join(workDir, PROJECTS_FILE), 'utf8');
      expect(stored).not.toContain('agent2');
      expect(stored).not.toContain(PASSWORD);
      // The first project's config is the config file's: it cannot be detached from here.
      await expect(call<AgentStatus>('detachProject', ['main'])).rejects.toThrow(
        /set in .*copilot-agent\.conf/,
      );
    } finally {
      await running?.stop();
    }
  }, 240_000);
});
