/**
 * copilot-attach-link without a shell on the XMPP host, against a real Prosody 0.12 (TLS,
 * invite-only registration, mod_invites_adhoc, the manager's account a server admin):
 * --invite-over-xmpp runs the "Create new account invite" ad-hoc command and the link's invite
 * registers a volunteer's account once; an account that is not an admin is refused by the
 * server. The link carries the project's Monitor (MON_JABBER_ADDRESS). Its QR codes, the SVG
 * rendered by Chromium and the terminal text, decode (zbarimg) to the exact link.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAttachLink } from '@manager/bin/copilot-attach-link';
import { attachFromCommandLine } from '@copilot/cli/attach-command';
import { readProjectFile } from '@copilot/cli/attached-project';
import { parseAttachFile, parseAttachLink } from '@copilot/protocol/attach-link';
import { qrTerminalText } from '@copilot/protocol/attach-qr';
import { CopilotSession } from '@copilot/transport/copilot-session';
import { sessionTlsFromConfig } from '@copilot/transport/tls-options';
import { RegistrationError, registerWithInvite } from '@copilot/transport/xmpp-register';
import { InviteError } from '@copilot/transport/xmpp-invite';
import { REPO_ROOT, startProsody, type ProsodyServer } from '@test/harness';
import { decodeQrPng, matrixOfTerminalText, matrixPng } from '@test/harness/qr-decode';

const JM = { username: 'jm', password: 'jm-secret' };
const PLAIN = { username: 'someone', password: 'someone-secret' };
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

let prosody: ProsodyServer;
let tmp: string;
let env: Record<string, string>;
let browser: Browser;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-invite-xmpp-'));
  prosody = await startProsody({
    tls: true,
    invites: true,
    serverAdmins: [JM.username],
    users: [JM, PLAIN],
  });
  // The manager's configuration, as copilot-manager init writes it (no secure mode here).
  env = {
    JM_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
    JM_JABBER_DOMAIN: prosody.domain,
    JM_JABBER_ID: JM.username,
    JM_JABBER_PASSWORD: JM.password,
    JM_JABBER_CA_FILE: prosody.caCertPath ?? '',
    JM_REQUIRE_TLS: '1',
    MON_JABBER_ADDRESS: `monitor@${prosody.domain}`,
  };
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await prosody?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function register(username: string, token: string): Promise<void> {
  return registerWithInvite({
    host: '127.0.0.1',
    port: prosody.port,
    domain: prosody.domain,
    username,
    password: `${username}-pw-123456`,
    inviteToken: token,
    ca: fs.readFileSync(prosody.caCertPath ?? '', 'utf8'),
    requireTls: true,
  });
}

describe('copilot-attach-link --invite-over-xmpp on Prosody', () => {
  it("makes a one-use invite with the admin's ad-hoc command; the link names the Monitor", async () => {
    const file = path.join(tmp, 'project.copilot');
    const made = await makeAttachLink(
      ['--name', 'Invite over XMPP', '--invite-over-xmpp', '--out', file],
      env,
    );
    expect(made.inviteSource).toBe('xmpp');
    const link = parseAttachLink(made.link);
    expect(link.monitorAddresses).toEqual([`monitor@${prosody.domain}`]);
    expect(link.managerJids).toEqual([`jm@${prosody.domain}`]);
    expect(parseAttachFile(fs.readFileSync(file, 'utf8'))).toEqual(link);

    await register('volunteer-one', link.inviteToken);
    const session = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'volunteer-one',
      password: 'volunteer-one-pw-123456',
      tls: sessionTlsFromConfig(prosody.caCertPath, '1'),
    });
    await session.start();
    await session.stop();
    // One use: the same invite registers nobody else.
    await expect(register('volunteer-two', link.inviteToken)).rejects.toBeInstanceOf(
      RegistrationError,
    );
    // --monitor none leaves the Monitor out.
    const without = await makeAttachLink(
      ['--name', 'No monitor', '--invite-over-xmpp', '--monitor', 'none'],
      env,
    );
    expect(parseAttachLink(without.link).monitorAddresses).toBeUndefined();
  }, 60_000);

  it('copilot-agent --attach with the file: its own account, and the Monitor in project.conf', async () => {
    const file = path.join(tmp, 'headless.copilot');
    await makeAttachLink(['--name', 'Headless', '--invite-over-xmpp', '--out', file], env);
    const workDir = path.join(tmp, 'agent');
    expect(await attachFromCommandLine(['--attach', file, `--AGENT_WORK_DIR=${workDir}`], {})).toBe(
      true,
    );
    const project = readProjectFile(workDir);
    expect(project?.get('AGENT_MONITOR_ADDRESS')).toBe(`monitor@${prosody.domain}`);
    expect(project?.get('AGENT_JABBER_ID')).toMatch(/^v-[a-z2-7]{16}$/);
  }, 60_000);

  it('is refused for an account that is not a server admin, with the reason', async () => {
    const error = await makeAttachLink(['--name', 'Refused', '--invite-over-xmpp'], {
      ...env,
      JM_INVITE_JABBER_ID: PLAIN.username,
      JM_INVITE_JABBER_PASSWORD: PLAIN.password,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InviteError);
    expect((error as Error).message).toMatch(/someone@localhost is not an admin/);
  }, 60_000);

  it('prints and writes QR codes that decode to the exact link', async () => {
    const svgFile = path.join(tmp, 'attach.svg');
    const made = await makeAttachLink(
      ['--name', 'QR project', '--invite-over-xmpp', '--qr', '--qr-svg', svgFile],
      env,
    );
    expect(made.qr).toBeDefined();
    expect((fs.statSync(svgFile).mode & 0o777).toString(8)).toBe('600');

    // The terminal text, read back module by module.
    const text = qrTerminalText(made.qr ?? []);
    expect(await decodeQrPng(matrixPng(matrixOfTerminalText(text), 4, 0))).toEqual([made.link]);

    // The SVG as a browser draws it.
    const page = await browser.newPage({ viewport: { width: 1000, height: 1000 } });
    await page.setContent(
      `<body style="margin:0;background:#fff"><img id="qr" src="data:image/svg+xml;base64,${fs
        .readFileSync(svgFile)
        .toString('base64')}" width="900" height="900"></body>`,
    );
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'attach-link-qr.png');
    await page.locator('#qr').screenshot({ path: shot });
    await page.close();
    expect(await decodeQrPng(shot)).toEqual([made.link]);
  }, 60_000);
});
