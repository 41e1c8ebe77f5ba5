/**
 * The React UI, built with vite, in headless Chromium against a REAL headless agent: createAgent
 * (real Docker, the job image) behind the real GUI RPC server (which serves the built UI), a
 * private Prosody and the real Generic Job Manager. Settings are persisted the way the headless
 * copilot-agent does it (agent-settings.json in its work dir).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import {
  applySettingsOverlay,
  saveSettingsOverlay,
  settingsOverlayPath,
} from '@copilot/cli/agent-config';
import { createAgent, type Agent } from '@copilot/core/agent';
import { startGuiRpcServer, type GuiRpcServer } from '@copilot/rpc/gui-rpc-server';
import { JOB_IMAGE, REPO_ROOT, startTestXmppServer, type XmppServer } from '@test/harness';
import { localAgentSettings } from './local-settings';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const JM = { username: 'jm', password: 'jm-secret' };
const AGENT = { username: 'volunteer', password: 'agent-secret' };

let tmp: string;
let prosody: XmppServer;
let manager: RunningJobManager;
let agent: Agent;
let rpc: GuiRpcServer;
let browser: Browser;
let workDir: string;

async function openUi(withToken = true): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  page.on('pageerror', (error) => process.stderr.write(`[renderer] ${error.message}\n`));
  await page.goto(withToken ? `${rpc.url}/#token=${encodeURIComponent(rpc.token)}` : rpc.url);
  return page;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-renderer-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const staticDir = path.join(tmp, 'renderer');
  await build({
    configFile: path.join(REPO_ROOT, 'src/renderer/vite.config.ts'),
    build: { outDir: staticDir, emptyOutDir: true, sourcemap: false },
    logLevel: 'warn',
  });

  prosody = await startTestXmppServer({ users: [JM, AGENT] });
  // The manager's own config loader, so its defaults apply (same variables as its config file).
  const jmConfig = loadJobManagerConfig(
    [
      `--JM_JABBER_SERVER=127.0.0.1:${prosody.port}`,
      `--JM_JABBER_DOMAIN=${prosody.domain}`,
      `--JM_JABBER_ID=${JM.username}`,
      `--JM_JABBER_PASSWORD=${JM.password}`,
      `--JM_STATE_DIR=${path.join(tmp, 'jm')}`,
      '--JM_STORAGE_PORT=0',
      '--JM_STORAGE_BIND=127.0.0.1',
    ],
    {},
  );
  manager = await startJobManager(jmConfig);

  workDir = path.join(tmp, 'agent');
  const settings = applySettingsOverlay(
    localAgentSettings(prosody, AGENT.username, AGENT.password, {
      startAtLogin: false,
    }),
    workDir,
  );
  agent = createAgent({
    settings,
    dataDir: workDir,
    persistSettings: (next) => saveSettingsOverlay(next, workDir),
    xmppService: prosody.service,
    jobImage: JOB_IMAGE,
    wallClockLimitSeconds: 600,
    fetchBackoff: { initialMs: 500, maxMs: 1_000, jitter: 0 },
  });
  await agent.start();
  rpc = await startGuiRpcServer(agent, {
    port: 0,
    tokenFile: path.join(workDir, 'gui-rpc-token'),
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
  await manager?.stop();
  await prosody?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('renderer against the real headless agent', () => {
  it('asks for the token without one, refuses a wrong one, and connects with the right one', async () => {
    const page = await openUi(false);
    const token = page.getByLabel('Token');
    await token.fill('not-the-token');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.locator('#token-error').textContent()).toMatch(/wrong token/);
    await token.fill(rpc.token);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByTestId('status-line').waitFor();
    await page.close();
  });

  it('shows the live connection status', async () => {
    const page = await openUi();
    await expect
      .poll(() => page.getByTestId('connection').textContent(), { timeout: 30_000 })
      .toBe('Connected');
    expect(await page.getByTestId('cpu-share').textContent()).toMatch(/%$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'renderer-status.png') });
    await page.close();
  });

  it('pauses for an hour and resumes from the Status view', async () => {
    const page = await openUi();
    await page.getByRole('button', { name: 'Pause for 1 hour' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    const paused = await agent.commands.getStatus();
    expect(paused.paused).toBe(true);
    expect(Date.parse(paused.pausedUntil ?? '') - Date.now()).toBeGreaterThan(55 * 60_000);
    await expect.poll(() => page.getByTestId('status-line').textContent()).toBe(paused.statusLine);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
    expect((await agent.commands.getStatus()).paused).toBe(false);
    await page.close();
  });

  it('rejects an invalid setting next to the field, and persists a valid one', async () => {
    const page = await openUi();
    await page.getByRole('button', { name: 'Settings' }).click();
    const cpu = page.getByLabel('CPU limit');
    await cpu.fill('250');
    await expect
      .poll(() => page.locator('#setting-cpuLimitPercent-error').textContent())
      .toBe('CPU limit must be between 1 and 100');
    expect(await cpu.getAttribute('aria-invalid')).toBe('true');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/correct/);
    expect(fs.existsSync(settingsOverlayPath(workDir))).toBe(false);
    await page.screenshot({ path: path.join(ARTIFACTS, 'renderer-settings-invalid.png') });

    await cpu.fill('35');
    await expect.poll(() => page.locator('#setting-cpuLimitPercent-error').count()).toBe(0);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Settings saved.');
    const stored = JSON.parse(fs.readFileSync(settingsOverlayPath(workDir), 'utf8')) as {
      cpuLimitPercent: number;
    };
    expect(stored.cpuLimitPercent).toBe(35);
    expect((await agent.commands.getSettings()).cpuLimitPercent).toBe(35);

    await page.reload();
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByLabel('CPU limit').inputValue()).toBe('35');
    await page.getByRole('button', { name: 'Status' }).click();
    await expect.poll(() => page.getByTestId('cpu-share').textContent()).toBe('35 %');
    await page.close();
  });

  it('shows a job running and then in the history with totals', async () => {
    const page = await openUi();
    await page.getByRole('button', { name: 'Contributed jobs' }).click();
    await page.getByTestId('job-totals').waitFor();
    const before = (await agent.commands.getJobs()).totals.jobs;

    const script = path.join(tmp, 'renderer-job.sh');
    fs.writeFileSync(script, '#!/bin/sh\necho "hello from the renderer test"\nsleep 4\n', {
      mode: 0o755,
    });
    const job = await submitJob(manager.queue, manager.paths, { commandFile: script });

    const running = page.getByTestId('running-job').filter({ hasText: job.id });
    await running.waitFor({ timeout: 60_000 });
    await expect
      .poll(() => running.getByRole('progressbar').getAttribute('aria-valuenow'))
      .toMatch(/^\d+$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'renderer-job-running.png') });

    const row = page.getByTestId('job-history').locator('tr', { hasText: job.id });
    await row.waitFor({ timeout: 60_000 });
    expect(await row.textContent()).toContain('succeeded');
    await expect
      .poll(() => page.getByTestId('job-totals').locator('.total-value').first().textContent())
      .toBe(String(before + 1));
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'renderer-jobs.png'), fullPage: true });

    await page.getByRole('button', { name: 'Event log' }).click();
    await expect.poll(() => page.getByTestId('log').locator('li').count()).toBeGreaterThan(0);
    await page.getByLabel('Show').selectOption('error');
    const errors = await page.getByTestId('log').locator('li').count();
    await page.getByLabel('Show').selectOption('debug');
    expect(await page.getByTestId('log').locator('li').count()).toBeGreaterThan(errors);
    await page.close();
  });
  it("shows the job's own progress with an ETA on the status view", async () => {
    const page = await openUi();
    await page.getByRole('button', { name: 'Status' }).click();
    const script = path.join(tmp, 'progress-job.sh');
    fs.writeFileSync(
      script,
      '#!/bin/sh\nsleep 1\necho 0.4 > "$COPILOT_PROGRESS_FILE"\nsleep 8\necho 1 > "$COPILOT_PROGRESS_FILE"\n',
      { mode: 0o755 },
    );
    const job = await submitJob(manager.queue, manager.paths, { commandFile: script });
    const running = page.getByTestId('running-job').filter({ hasText: job.id });
    await running.waitFor({ timeout: 60_000 });
    const progress = running.getByTestId('job-progress');
    await progress.waitFor({ timeout: 20_000 });
    expect(await progress.textContent()).toMatch(/^40 % done, about \d+ s left$/);
    expect(await running.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('40');
    expect(await running.getByRole('progressbar').getAttribute('aria-label')).toBe(
      `Job ${job.id} progress`,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'renderer-job-progress.png') });
    const history = page.getByTestId('running-job').filter({ hasText: job.id });
    await expect.poll(() => history.count(), { timeout: 60_000 }).toBe(0);
    await page.close();
  });

  it('suspends, resumes and aborts one job from the status view', async () => {
    const page = await openUi();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Status' }).click();
    const script = path.join(tmp, 'long-job.sh');
    fs.writeFileSync(script, '#!/bin/sh\nsleep 600\n', { mode: 0o755 });
    const job = await submitJob(manager.queue, manager.paths, { commandFile: script });
    const card = page.getByTestId('running-job').filter({ hasText: job.id });
    await card.getByRole('button', { name: 'Suspend job' }).click({ timeout: 60_000 });
    await card.getByRole('button', { name: 'Resume job' }).waitFor();
    expect((await agent.commands.getStatus()).suspendedJobs).toEqual([job.id]);
    await expect.poll(() => card.locator('.badge').textContent()).toBe('paused');
    await page.screenshot({ path: path.join(ARTIFACTS, 'renderer-job-suspended.png') });
    await card.getByRole('button', { name: 'Resume job' }).click();
    await card.getByRole('button', { name: 'Suspend job' }).waitFor();
    await card.getByTestId('abort-job').click();
    await expect.poll(() => card.count(), { timeout: 30_000 }).toBe(0);
    const { history } = await agent.commands.getJobs();
    expect(history.find((record) => record.jobId === job.id)).toMatchObject({ state: 'aborted' });
    await page.close();
  });
});
