/**
 * Issue 15's done-when: a volunteer joins with one link. Debian Chromium shows the React UI
 * served by the REAL headless agent (startHeadlessAgent, as `copilot-agent` runs it) started
 * from an EMPTY work dir; the link is made by copilot-attach-link (manager/bin) for a real
 * Prosody (TLS, invite-only in-band registration) and a real Generic Job Manager in secure
 * mode. The volunteer pastes the link, sees what the project may do, accepts; the agent creates
 * its own account with the invite, pins the CA, turns on secure mode, and runs a job whose image
 * is pulled by digest from a registry on loopback (Debian's docker-registry). Screenshots:
 * test-artifacts/attach-*.png.
 *
 * The same flow runs twice: with the machine's dockerd, and with a real Podman instead (the
 * harness's startPodman, found by the agent through DOCKER_HOST; its registries.conf marks the
 * loopback registry insecure, as dockerd does for 127.0.0.0/8 by itself): screenshots
 * test-artifacts/attach-*-podman.png.
 *
 * A second test attaches a headless agent with `copilot-agent --attach FILE` (the .copilot file
 * copilot-attach-link --out wrote) and checks it comes online under the project's manager.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { makeAttachLink } from '@manager/bin/copilot-attach-link';
import { managerSecureLayers } from '@copilot/transport/secure-layer';
import { sessionTlsFromConfig } from '@copilot/transport/tls-options';
import { attachFromCommandLine } from '@copilot/cli/attach-command';
import { readProjectFile } from '@copilot/cli/attached-project';
import { startHeadlessAgent, type RunningAgent } from '@copilot/cli/copilot-agent';
import { parseAttachLink } from '@copilot/protocol/attach-link';
import {
  REPO_ROOT,
  ensureDocker,
  freePort,
  pushImage,
  removeLocalImage,
  runCommand,
  startPodman,
  startProsody,
  startRegistry,
  type PodmanServer,
  type ProsodyServer,
  type RegistryServer,
} from '@test/harness';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const JM = { username: 'jm', password: 'jm-secret' };
const BASE_IMAGE = 'copilot-job-cernvm:latest';
const BUILD_SCRIPT = path.join(REPO_ROOT, 'assets', 'job-image', 'build-cernvm-image.sh');

let tmp: string;
let staticDir: string;
let prosody: ProsodyServer;
let registry: RegistryServer;
let manager: RunningJobManager;
let managerEnv: Record<string, string>;
let pinned: string;
let browser: Browser;
let podman: PodmanServer;
const agents: RunningAgent[] = [];

const ENGINES = ['docker', 'podman'] as const;
type EngineName = (typeof ENGINES)[number];

/** copilot-attach-link's arguments for this server: prosodyctl as Prosody's own user. */
function attachLinkArgs(extra: string[]): string[] {
  const asProsody = process.getuid?.() === 0 ? ['--prosodyctl-user', 'prosody'] : [];
  return [
    '--name',
    'Attach test project',
    '--prosody-config',
    prosody.configPath,
    ...asProsody,
    '--registries',
    `${registry.host}/copilot`,
    '--admins',
    `admin@${prosody.domain}`,
    ...extra,
  ];
}

async function headlessAgent(
  name: string,
  argv: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningAgent> {
  const port = await freePort();
  const agent = await startHeadlessAgent(
    [
      `--AGENT_WORK_DIR=${path.join(tmp, name)}`,
      `--AGENT_GUI_RPC_PORT=${port}`,
      `--AGENT_GUI_STATIC_DIR=${staticDir}`,
      '--AGENT_CPU_LIMIT_PERCENT=100',
      '--AGENT_MEMORY_LIMIT_MB=256',
      `--AGENT_JABBER_RESOURCE=${name}`,
      ...argv,
    ],
    env,
  );
  agents.push(agent);
  return agent;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-attach-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  staticDir = path.join(tmp, 'renderer');
  await build({
    configFile: path.join(REPO_ROOT, 'src/renderer/vite.config.ts'),
    build: { outDir: staticDir, emptyOutDir: true, sourcemap: false },
    logLevel: 'warn',
  });
  await ensureDocker();
  await runCommand('bash', [BUILD_SCRIPT, BASE_IMAGE], { timeoutMs: 600_000 });
  registry = await startRegistry();
  pinned = await pushImage(registry, BASE_IMAGE, 'copilot/cernvm');
  await removeLocalImage(pinned);

  prosody = await startProsody({ tls: true, invites: true, users: [JM] });
  const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = path.join(tmp, 'jm-private.pem');
  fs.writeFileSync(privateKey, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  // The manager's configuration, as its config file would have it; copilot-attach-link reads it.
  managerEnv = {
    JM_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
    JM_JABBER_DOMAIN: prosody.domain,
    JM_JABBER_ID: JM.username,
    JM_JABBER_PASSWORD: JM.password,
    JM_STATE_DIR: path.join(tmp, 'jm'),
    JM_STORAGE_PORT: '0',
    JM_STORAGE_BIND: '127.0.0.1',
    JM_SECURE_MODE: '1',
    JM_PRIVATE_KEY: privateKey,
    JM_JABBER_CA_FILE: prosody.caCertPath ?? '',
    JM_REQUIRE_TLS: '1',
  };
  const config = loadJobManagerConfig([], managerEnv);
  manager = await startJobManager(config, {
    session: {
      layers: managerSecureLayers((name) => managerEnv[name], `${JM.username}@${prosody.domain}`),
      tls: sessionTlsFromConfig(managerEnv.JM_JABBER_CA_FILE, managerEnv.JM_REQUIRE_TLS),
    },
  });
  podman = await startPodman({ insecureRegistries: [registry.host] });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 900_000);

afterAll(async () => {
  await browser?.close();
  for (const agent of agents.splice(0)) await agent.stop();
  await manager?.stop();
  await prosody?.stop();
  await podman?.stop();
  if (pinned) await removeLocalImage(pinned).catch(() => undefined);
  await registry?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a volunteer attaches with one link', () => {
  it.each(ENGINES)(
    'pastes a copilot-attach-link link on the first-run screen, accepts, and runs a job pulled by digest (%s)',
    async (engine: EngineName) => {
      // One agent at a time, so that the job goes to this engine's.
      for (const running of agents.splice(0)) await running.stop();
      const name = `browser-${engine}`;
      const shot = (what: string): string =>
        path.join(ARTIFACTS, `attach-${what}${engine === 'podman' ? '-podman' : ''}.png`);
      const { link } = await makeAttachLink(attachLinkArgs([]), managerEnv);
      const parsed = parseAttachLink(link);
      expect(parsed.managerPublicKeyPem).toContain('PUBLIC KEY');
      expect(parsed.caFingerprint256).toMatch(/^[0-9a-f]{64}$/);

      const agent = await headlessAgent(
        name,
        [],
        engine === 'podman' ? { DOCKER_HOST: podman.dockerHost } : {},
      );
      const rpc = agent.rpc;
      if (!rpc) throw new Error('no GUI RPC');
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      page.on('pageerror', (error) => process.stderr.write(`[renderer] ${error.message}\n`));
      await page.goto(`${rpc.url}/#token=${encodeURIComponent(rpc.token)}`);

      // An empty profile: the first-run screen, not the app.
      await page.getByTestId('first-run').waitFor();
      await page.getByLabel('Attach link from your project').fill(link);
      await page.getByRole('button', { name: 'Show what it does' }).click();
      const preview = page.getByTestId('attach-preview');
      await preview.waitFor();
      const previewText = (await preview.textContent()) ?? '';
      expect(previewText).toContain('Attach test project');
      expect(previewText).toContain(`jm@${prosody.domain}`);
      expect(previewText).toContain('Secure mode');
      expect(previewText).toContain(`${registry.host}/copilot`);
      await page.screenshot({ path: shot('preview'), fullPage: true });

      // A link edited after its preview cannot be accepted unseen: the preview goes away.
      const accept = page.getByRole('button', { name: 'Accept and join Attach test project' });
      await page.getByLabel('Attach link from your project').fill(`${link}&x=1`);
      await preview.waitFor({ state: 'detached' });
      expect(await accept.count()).toBe(0);
      await page.getByLabel('Attach link from your project').fill(link);
      await page.getByRole('button', { name: 'Show what it does' }).click();
      await preview.waitFor();

      await accept.click();
      // Attached: the app itself, connected over TLS to the project's server.
      await expect
        .poll(
          () =>
            page
              .getByTestId('connection')
              .textContent()
              .catch(() => null),
          {
            timeout: 60_000,
          },
        )
        .toBe('Connected');
      const project = readProjectFile(path.join(tmp, name));
      expect(project?.get('AGENT_SECURE_MODE')).toBe('1');
      expect(project?.get('AGENT_REQUIRE_TLS')).toBe('1');
      expect(fs.statSync(path.join(tmp, name, 'project.conf')).mode & 0o777).toBe(0o600);
      // The Status view names the engine that runs the jobs.
      await expect
        .poll(() => page.getByTestId('engine-name').textContent(), { timeout: 30_000 })
        .toBe(engine === 'podman' ? 'Podman' : 'Docker');

      const script = path.join(tmp, `job-${engine}.sh`);
      fs.writeFileSync(
        script,
        "#!/bin/bash\npython3 -c 'print(6 * 7)' > output/answer.txt\nsleep 6\n" +
          // Podman sets container=podman in a container's environment; dockerd sets nothing.
          'echo "engine=${container:-docker}"\necho done\n',
        { mode: 0o755 },
      );
      const job = await submitJob(manager.queue, manager.paths, {
        commandFile: script,
        image: pinned,
      });
      const running = page.getByTestId('running-job').filter({ hasText: job.id });
      await running.waitFor({ timeout: 120_000 });
      // Pulled by digest and started: the card says running (the job sleeps 6 s).
      await expect.poll(() => running.textContent(), { timeout: 60_000 }).toMatch(/running/);
      await page.screenshot({ path: shot('job-running'), fullPage: true });

      const done = await waitForJob(manager.queue, job.id, 180_000);
      expect(done?.state).toBe('done');
      expect(fs.readFileSync(path.join(manager.config.doneJobDir, job.id, 'stdout'), 'utf8')).toBe(
        `engine=${engine}\ndone\n`,
      );
      if (engine === 'podman') {
        // Pulled into Podman's own storage, under the digest reference.
        const images = await podman.docker.listImages();
        expect(images.some((image) => (image.RepoDigests ?? []).includes(pinned))).toBe(true);
      }
      await page.getByRole('button', { name: 'Contributed jobs' }).click();
      const row = page.getByTestId('job-history').locator('tr', { hasText: job.id });
      await row.waitFor({ timeout: 60_000 });
      expect(await row.textContent()).toMatch(/succeeded/);
      await page.screenshot({ path: shot('job-history'), fullPage: true });
      await page.close();
    },
    420_000,
  );

  it('copilot-agent --attach FILE (the .copilot file) attaches a headless agent that comes online', async () => {
    const file = path.join(tmp, 'project.copilot');
    await makeAttachLink(attachLinkArgs(['--out', file]), managerEnv);
    const workDir = path.join(tmp, 'cli-agent');
    const argv = ['--attach', file, `--AGENT_WORK_DIR=${workDir}`];
    expect(await attachFromCommandLine(argv, {})).toBe(true);
    const account = readProjectFile(workDir)?.get('AGENT_JABBER_ID') ?? '';
    expect(account).toMatch(/^v-[a-z2-7]{16}$/);
    const agent = await headlessAgent('cli-agent');
    const rpc = agent.rpc;
    if (!rpc) throw new Error('no GUI RPC');
    await expect
      .poll(
        async () => {
          const response = await fetch(`${rpc.url}/api/getStatus`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-copilot-token': rpc.token },
            body: '[]',
          });
          return ((await response.json()) as { connection: string }).connection;
        },
        { timeout: 60_000 },
      )
      .toBe('online');
    // The invite is used up: the same file cannot make a second account.
    expect(
      await attachFromCommandLine(['--attach', file, `--AGENT_WORK_DIR=${workDir}-2`], {}),
    ).toBe(false);
  }, 180_000);
});
