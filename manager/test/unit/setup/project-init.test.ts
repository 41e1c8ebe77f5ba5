import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '@copilot/protocol/config-file';
import { initProject, type ProjectInitOptions } from '@manager/setup/project-init';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function options(extra: Partial<ProjectInitOptions> = {}): ProjectInitOptions {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'project-init-'));
  dirs.push(dir);
  return {
    projectName: 'Init test',
    domain: 'copilot.example.org',
    configDir: path.join(dir, 'etc'),
    stateDir: path.join(dir, 'state'),
    serviceGroup: 'no-such-group-here',
    keyBits: 2048,
    ...extra,
  };
}

function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

describe('initProject', () => {
  it('writes the key pair as a matching PKCS#8 / SPKI pair, the secrets 0600', () => {
    const result = initProject(options());
    const file = (name: string): string => path.join(result.plan.configDir, name);
    const privateKey = crypto.createPrivateKey(fs.readFileSync(file('jm-private.pem')));
    const publicKey = crypto.createPublicKey(fs.readFileSync(file('jm-public.pem')));
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    const probe = crypto.publicEncrypt(publicKey, Buffer.from('probe'));
    expect(crypto.privateDecrypt(privateKey, probe).toString()).toBe('probe');
    expect(fs.readFileSync(file('jm-private.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(modeOf(file('jm-private.pem'))).toBe(0o600);
    expect(modeOf(file('copilot-jobmanager.env'))).toBe(0o600);
    expect(modeOf(file('copilot-monitor.env'))).toBe(0o600);
    expect(modeOf(file('prosody-accounts.sh'))).toBe(0o700);
    expect(modeOf(file('copilot-jobmanager-generic.conf'))).toBe(0o640);
    expect(result.group).toBeUndefined();
    const config = parseConfigText(
      fs.readFileSync(file('copilot-jobmanager-generic.conf'), 'utf8'),
    );
    expect(config.get('JM_PRIVATE_KEY')).toBe(file('jm-private.pem'));
  });

  it('chooses a different random password for each account and each project', () => {
    const a = initProject(options()).plan.accounts;
    const b = initProject(options()).plan.accounts;
    const passwords = [a.manager, a.monitor, a.console, b.manager].map((x) => x.password);
    expect(new Set(passwords).size).toBe(4);
    expect(passwords.every((p) => p.length >= 32)).toBe(true);
  });

  it('overwrites nothing without force, and writes nothing when it refuses', () => {
    const first = options();
    initProject(first);
    const env = path.join(first.configDir, 'copilot-jobmanager.env');
    const before = fs.readFileSync(env, 'utf8');
    fs.rmSync(path.join(first.configDir, 'jm-public.pem'));
    expect(() => initProject(first)).toThrow(/not overwriting .*copilot-jobmanager\.env/);
    expect(fs.readFileSync(env, 'utf8')).toBe(before);
    expect(fs.existsSync(path.join(first.configDir, 'jm-public.pem'))).toBe(false);
    initProject({ ...first, force: true });
    expect(fs.readFileSync(env, 'utf8')).not.toBe(before);
    expect(modeOf(env)).toBe(0o600);
  });

  it('copies the CA certificate and refuses a file that is not one', () => {
    const ca = options();
    const bad = path.join(path.dirname(ca.configDir), 'not-a-cert.pem');
    fs.writeFileSync(bad, 'hello');
    expect(() => initProject({ ...ca, caFile: bad })).toThrow(/not a readable PEM certificate/);
    expect(fs.existsSync(ca.configDir)).toBe(false);
  });

  it('refuses names that would break the files they go into', () => {
    expect(() => initProject(options({ domain: 'bad domain' }))).toThrow(/domain/);
    expect(() => initProject(options({ projectName: 'say "hi"' }))).toThrow(/project name/);
    expect(() => initProject(options({ managerId: 'x y' }))).toThrow(/manager account/);
    expect(() => initProject(options({ storageUrl: 'ftp://x' }))).toThrow(/storage URL/);
    expect(() => initProject(options({ tlsCertificate: '/c.crt' }))).toThrow(/go together/);
  });
});
