import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAttachLink } from '@copilot/protocol/attach-link';
import { initOptionsFrom, main } from '@manager/bin/copilot-manager';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function captured(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  return { out: () => out, err: () => err };
}

describe('copilot-manager init', () => {
  it('prints an attach link a volunteer can parse, with the key it wrote', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-manager-'));
    dirs.push(dir);
    const io = captured();
    const code = await main([
      'init',
      '--name',
      'Link test',
      '--domain',
      'copilot.example.org',
      '--xmpp-server',
      'xmpp.example.org:5223',
      '--dir',
      path.join(dir, 'etc'),
      '--state-dir',
      path.join(dir, 'state'),
      '--registries',
      'registry.example.org/jobs',
      '--invite',
      'invite-token-123',
      '--out',
      path.join(dir, 'p.copilot'),
    ]);
    expect({ code, err: io.err() }).toEqual({ code: 0, err: '' });
    const line =
      io
        .out()
        .split('\n')
        .find((l) => l.startsWith('copilot://attach?')) ?? '';
    const link = parseAttachLink(line);
    expect(link).toMatchObject({
      projectName: 'Link test',
      xmppServer: 'xmpp.example.org:5223',
      xmppDomain: 'copilot.example.org',
      managerJids: ['jobmanager@copilot.example.org'],
      adminAccounts: ['fleet-console@copilot.example.org'],
      monitorAddresses: ['monitor@copilot.example.org'],
      allowedImageRegistries: ['registry.example.org/jobs'],
      inviteToken: 'invite-token-123',
    });
    expect(link.managerPublicKeyPem).toBe(
      fs.readFileSync(path.join(dir, 'etc', 'jm-public.pem'), 'utf8'),
    );
    expect(fs.statSync(path.join(dir, 'p.copilot')).mode & 0o777).toBe(0o600);
    expect(io.out()).toContain('copilot-attach-link --config');
  });

  it('asks for the name and the domain, and refuses unknown options', () => {
    expect(() => initOptionsFrom(['--name', 'x'])).toThrow(/--name and --domain are required/);
    expect(() => initOptionsFrom(['--name', 'x', '--domain', 'd', '--colour', 'red'])).toThrow(
      /unknown arguments: --colour/,
    );
    expect(() => initOptionsFrom(['--name', 'x', '--domain', 'd', '--out', 'f'])).toThrow(
      /--out needs --invite/,
    );
    expect(initOptionsFrom(['--name', 'x', '--domain', 'd', '--force']).options).toMatchObject({
      configDir: '/etc/copilot',
      stateDir: '/var/lib/copilot-jobmanager',
      force: true,
    });
  });

  it('says which command it knows, exiting 2 for another', async () => {
    const io = captured();
    expect(await main(['start'])).toBe(2);
    expect(io.err()).toContain('unknown command start');
  });
});
