/**
 * The attach link on the Monitor's dashboard, end to end: copilot-attach-link makes a link with
 * an invite over XMPP on a real Prosody and writes the .copilot file (--out); a real Monitor
 * with MON_ATTACH_LINK_FILE and MON_ADMIN_TOKEN_FILE (no fleet console) serves the dashboard;
 * in headless Chromium the section is there, a wrong token is refused and nothing of the link
 * shows, the right token shows the project, the Monitor, the link text and the QR code, whose
 * screenshot zbarimg decodes to the exact link; Copy puts the link on the clipboard; and the
 * link's invite still registers a volunteer's account.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAttachLink } from '@manager/bin/copilot-attach-link';
import { startMonitor, type Monitor } from '@manager/monitor/copilot-monitor';
import { parseAttachLink } from '@copilot/protocol/attach-link';
import { registerWithInvite } from '@copilot/transport/xmpp-register';
import { REPO_ROOT, startProsody, type ProsodyServer } from '@test/harness';
import { startCarbon, type CarbonServer } from '@test/harness/carbon';
import { decodeQrPng } from '@test/harness/qr-decode';

const JM = { username: 'jm', password: 'jm-secret' };
const MONITOR = { username: 'monitor', password: 'mon-secret' };
const TOKEN = 'dashboard-admin-token-0123456789';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

let prosody: ProsodyServer;
/** The Monitor's own server: it takes no CA setting (NODE_EXTRA_CA_CERTS in production). */
let monitorProsody: ProsodyServer;
let carbon: CarbonServer;
let monitor: Monitor;
let browser: Browser;
let tmp: string;
let link: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-dashboard-attach-'));
  [prosody, monitorProsody, carbon] = await Promise.all([
    startProsody({ tls: true, invites: true, serverAdmins: [JM.username], users: [JM] }),
    startProsody({ users: [MONITOR] }),
    startCarbon(),
  ]);
  const linkFile = path.join(tmp, 'project.copilot');
  ({ link } = await makeAttachLink(
    ['--name', 'Dashboard project', '--invite-over-xmpp', '--out', linkFile],
    {
      JM_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
      JM_JABBER_DOMAIN: prosody.domain,
      JM_JABBER_ID: JM.username,
      JM_JABBER_PASSWORD: JM.password,
      JM_JABBER_CA_FILE: prosody.caCertPath ?? '',
      JM_REQUIRE_TLS: '1',
      MON_JABBER_ADDRESS: prosody.jid(MONITOR.username),
    },
  ));
  const tokenFile = path.join(tmp, 'admin-token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  monitor = await startMonitor({
    config: {
      jabber: {
        server: `127.0.0.1:${monitorProsody.port}`,
        domain: monitorProsody.domain,
        id: MONITOR.username,
        password: MONITOR.password,
      },
      carbon: { host: '127.0.0.1', port: carbon.linePort },
      sampleSeconds: 1,
      http: { host: '127.0.0.1', port: 0 },
      pollSeconds: 5,
      carbonBufferLines: 1000,
      allowedSenders: [],
      maxSeries: 100,
      attachLink: { file: linkFile, adminTokenFile: tokenFile },
    },
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await monitor?.stop();
  await Promise.all([carbon?.stop(), prosody?.stop(), monitorProsody?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the attach link on the Monitor dashboard (Chromium)', () => {
  it('shows the link and its QR code to the admin token holder only; the QR code decodes to the link', async () => {
    // Loopback by name, as an admin opens it (the server answers loopback names only).
    const url = monitor.http.url.replace('127.0.0.1', 'localhost');
    const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: new URL(url).origin,
    });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(url);
    await page.waitForSelector('body[data-loaded="true"]');
    await page.waitForSelector('#attach', { state: 'visible' });

    await page.fill('#attach-token', 'not-the-admin-token-at-all-000');
    await page.click('#attach-show');
    await page.waitForSelector('#attach-status[data-outcome="refused"]');
    expect(await page.textContent('#attach-status')).toMatch(/refused \(token\)/);
    expect(await page.locator('#attach-view').isHidden()).toBe(true);
    expect(await page.content()).not.toContain(parseAttachLink(link).inviteToken);

    await page.fill('#attach-token', TOKEN);
    await page.click('#attach-show');
    await page.waitForSelector('#attach-status[data-outcome="ok"]', { state: 'attached' });
    expect(await page.textContent('#attach-project')).toBe('Dashboard project');
    expect(await page.textContent('#attach-monitor')).toBe(
      `agents report their load and jobs to ${prosody.jid(MONITOR.username)}`,
    );
    expect(await page.inputValue('#attach-link')).toBe(link);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-attach-link.png') });
    const qrShot = path.join(ARTIFACTS, 'dashboard-attach-link-qr.png');
    await page.locator('#attach-qr').screenshot({ path: qrShot });
    expect(await decodeQrPng(qrShot)).toEqual([link]);

    await page.click('#attach-copy');
    await page.waitForFunction(
      () => document.getElementById('attach-copied')?.textContent === 'copied',
    );
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    expect(violations).toEqual([]);
    await context.close();

    // The invite on the dashboard is a working one.
    await registerWithInvite({
      host: '127.0.0.1',
      port: prosody.port,
      domain: prosody.domain,
      username: 'scanned-volunteer',
      password: 'scanned-volunteer-pw-1234',
      inviteToken: parseAttachLink(link).inviteToken,
      ca: fs.readFileSync(prosody.caCertPath ?? '', 'utf8'),
      requireTls: true,
    });
  }, 90_000);
});
