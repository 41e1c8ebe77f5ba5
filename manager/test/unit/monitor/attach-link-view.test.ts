import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAttachLink, formatAttachFile } from '@copilot/protocol/attach-link';
import { AttachLinkFileError, readAttachLinkView } from '@manager/monitor/attach-link-view';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attach-view-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const fields = {
  projectName: 'Dashboard project',
  xmppServer: 'xmpp.example.org',
  xmppDomain: 'example.org',
  managerJids: ['jm@example.org'],
  allowedImageRegistries: [],
  adminAccounts: [],
  monitorAddresses: ['monitor@example.org'],
  inviteToken: 'invite-token-1234',
};

describe('the attach link on the dashboard', () => {
  it('reads the .copilot file: the exact link, its project, its Monitor and a QR code', () => {
    const link = buildAttachLink(fields);
    const view = readAttachLinkView(write('ok.copilot', formatAttachFile(link, 'x')));
    expect(view).toMatchObject({
      projectName: 'Dashboard project',
      link,
      monitorAddresses: ['monitor@example.org'],
    });
    const svg = Buffer.from((view.qr ?? '').split(',')[1] ?? '', 'base64').toString('utf8');
    expect(view.qr?.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });

  it('shows a link too long for a QR code without one, and says why', () => {
    const managers = Array.from({ length: 16 }, (_, i) => `${'m'.repeat(200)}${i}@example.org`);
    const link = buildAttachLink({ ...fields, managerJids: managers });
    const view = readAttachLinkView(write('long.copilot', `${link}\n`));
    expect(view.link).toBe(link);
    expect(view.qr).toBeNull();
    expect(view.qrError).toMatch(/more than a QR code holds/);
  });

  it('refuses a missing file, a link an agent would refuse, and two links', () => {
    const link = buildAttachLink(fields);
    expect(() => readAttachLinkView(path.join(dir, 'none.copilot'))).toThrow(AttachLinkFileError);
    expect(() => readAttachLinkView(write('bad.copilot', `${link}&exec=x\n`))).toThrow(
      /unknown parameter/,
    );
    expect(() => readAttachLinkView(write('two.copilot', `${link}\n${link}\n`))).toThrow(
      /exactly one link/,
    );
    expect(() => readAttachLinkView(write('big.copilot', '#'.repeat(40_000)))).toThrow(/too large/);
  });
});
