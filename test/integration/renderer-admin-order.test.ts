/**
 * The status view in Chromium while a project admin's drain holds the real headless agent (GUI
 * RPC, the built UI, a private Prosody and an admin session that sends adminOrder): the status
 * line says "Drained by the project admin (reason)" (the reason as text, never markup), a note
 * names the admin and says only an admin can lift it; after the admin's resume the note is
 * gone. Saves test-artifacts/renderer-admin-drained.png.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@copilot/core/agent';
import { startGuiRpcServer, type GuiRpcServer } from '@copilot/rpc/gui-rpc-server';
import { CopilotSession } from '@copilot/transport';
import { REPO_ROOT, startTestXmppServer, type XmppServer, until } from '@test/harness';
import { localAgentSettings } from './local-settings';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const PASSWORD = 'renderer-admin-pw';

let tmp: string;
let prosody: XmppServer;
let agent: Agent;
let agentJid: string;
let rpc: GuiRpcServer;
let browser: Browser;
let admin: CopilotSession;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-renderer-admin-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const staticDir = path.join(tmp, 'renderer');
  await build({
    configFile: path.join(REPO_ROOT, 'src/renderer/vite.config.ts'),
    build: { outDir: staticDir, emptyOutDir: true, sourcemap: false },
    logLevel: 'warn',
  });
  prosody = await startTestXmppServer({
    users: ['volunteer', 'admin'].map((username) => ({ username, password: PASSWORD })),
  });
  const workDir = path.join(tmp, 'agent');
  agent = createAgent({
    settings: localAgentSettings(prosody, 'volunteer', PASSWORD, {
      adminAccounts: prosody.jid('admin'),
      startAtLogin: false,
    }),
    dataDir: workDir,
    xmppService: prosody.service,
    fetchBackoff: { initialMs: 1_000, maxMs: 5_000, jitter: 0 },
  });
  await agent.start();
  agentJid = await until('the agent to come online', () =>
    agent.session?.isOnline ? agent.session.jid : undefined,
  );
  rpc = await startGuiRpcServer(agent, {
    port: 0,
    tokenFile: path.join(workDir, 'gui-rpc-token'),
    staticDir,
  });
  admin = new CopilotSession({
    service: prosody.service,
    domain: prosody.domain,
    username: 'admin',
    password: PASSWORD,
    resource: 'console',
  });
  await admin.start();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await admin?.stop();
  await rpc?.close();
  await agent?.stop();
  await prosody?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function openUi(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  page.on('pageerror', (error) => process.stderr.write(`[renderer] ${error.message}\n`));
  await page.goto(`${rpc.url}/#token=${encodeURIComponent(rpc.token)}`);
  return page;
}

describe('renderer: a project admin’s drain', () => {
  it('shows who drained the agent and why, and clears it after the admin’s resume', async () => {
    const page = await openUi();
    await page.getByTestId('status-line').waitFor();
    await admin.send(agentJid, {
      command: 'adminOrder',
      order: 'drain',
      reason: 'server move <b>tonight</b>',
    });
    await expect
      .poll(() => page.getByTestId('status-line').textContent(), { timeout: 15_000 })
      .toBe('Drained by the project admin (server move <b>tonight</b>)');
    const note = (await page.getByTestId('admin-order').textContent()) ?? '';
    expect(note).toMatch(
      new RegExp(`^No new work is taken: ordered by the project admin ${prosody.jid('admin')} at `),
    );
    expect(note).toContain('Only a project admin can lift it');
    expect(await page.locator('b').count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'renderer-admin-drained.png') });
    await admin.send(agentJid, { command: 'adminOrder', order: 'resume' });
    await page.getByTestId('admin-order').waitFor({ state: 'detached', timeout: 15_000 });
    expect(await page.getByTestId('status-line').textContent()).not.toMatch(/project admin/);
    await page.close();
  }, 60_000);
});
