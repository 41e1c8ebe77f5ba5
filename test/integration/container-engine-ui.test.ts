/**
 * "No container engine" in the UI (issue #15), in headless Chromium against the real headless
 * agent behind the GUI RPC server: with nothing at the place DOCKER_HOST names, the Status view
 * says what to install on this OS and where the agent looked; then Podman is started there
 * (startPodman) and "Check again" finds it at once (the agent's own back-off would wait 10 min).
 * Screenshots: test-artifacts/engine-missing.png, engine-found.png.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import { createAgent, type Agent } from '@copilot/core/agent';
import { hostContainerEngine } from '@copilot/core/docker-socket';
import { startGuiRpcServer, type GuiRpcServer } from '@copilot/rpc/gui-rpc-server';
import { REPO_ROOT, freePort, startPodman, type PodmanServer } from '@test/harness';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

let tmp: string;
let agent: Agent;
let rpc: GuiRpcServer;
let browser: Browser;
let podman: PodmanServer | undefined;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-engine-ui-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const staticDir = path.join(tmp, 'renderer');
  await build({
    configFile: path.join(REPO_ROOT, 'src/renderer/vite.config.ts'),
    build: { outDir: staticDir, emptyOutDir: true, sourcemap: false },
    logLevel: 'warn',
  });
  const dataDir = path.join(tmp, 'agent');
  fs.mkdirSync(dataDir);
  agent = createAgent({
    // Configured (so the UI opens on Status, not on the first-run screen), with an XMPP
    // server that is not there: this test is about the engine only.
    settings: {
      ...DEFAULT_SETTINGS,
      jobManagerAddress: 'jm@example.invalid',
      xmppServer: `127.0.0.1:${await freePort()}`,
      xmppDomain: 'example.invalid',
      xmppUsername: 'volunteer',
      xmppPassword: 'unused',
      runOnlyWhenIdle: false,
      startAtLogin: false,
    },
    dataDir,
    engine: hostContainerEngine({
      DOCKER_HOST: `unix://${path.join(tmp, 'run', 'podman', 'podman.sock')}`,
    }),
    // Only "Check again" asks again within this test.
    dockerBackoff: { initialMs: 600_000, maxMs: 600_000, jitter: 0 },
  });
  await agent.start();
  rpc = await startGuiRpcServer(agent, {
    port: 0,
    tokenFile: path.join(dataDir, 'gui-rpc-token'),
    staticDir,
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  await rpc?.close();
  await agent?.stop();
  await podman?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the container engine panel', () => {
  it('says what to install when none answers, and Check again finds Podman once it runs', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    page.on('pageerror', (error) => process.stderr.write(`[renderer] ${error.message}\n`));
    await page.goto(`${rpc.url}/#token=${encodeURIComponent(rpc.token)}`);
    const panel = page.getByTestId('container-engine');
    await page.getByTestId('engine-missing').waitFor({ timeout: 30_000 });
    const socket = `unix://${path.join(tmp, 'run', 'podman', 'podman.sock')}`;
    expect(await panel.textContent()).toContain(
      `No container engine answers at DOCKER_HOST (${socket})`,
    );
    expect(await page.getByTestId('engine-advice').textContent()).toContain(
      'sudo apt install podman',
    );
    await page.getByText('Where the agent looked').click();
    expect(await page.getByTestId('engine-tried').textContent()).toBe(`${socket}: no socket`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'engine-missing.png'), fullPage: true });

    podman = await startPodman({ runtimeDir: path.join(tmp, 'run') });
    // Nothing changes by itself: the next probe is 10 minutes away.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await page.getByTestId('engine-missing').count()).toBe(1);

    await page.getByTestId('engine-check').click();
    await expect
      .poll(
        () =>
          page
            .getByTestId('engine-name')
            .textContent()
            .catch(() => null),
        {
          timeout: 15_000,
        },
      )
      .toBe('Podman');
    expect(await panel.textContent()).toContain(socket);
    expect((await agent.commands.getStatus()).docker).toMatchObject({
      available: true,
      engine: 'podman',
      endpoint: socket,
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'engine-found.png'), fullPage: true });
    await page.close();
  });
});
