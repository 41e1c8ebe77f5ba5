import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '@copilot/cli/agent-config';
import { projectFilePath, readProjectFile, writeProjectFile } from '@copilot/cli/attached-project';
import { attachArgument, withoutAttachArgument } from '@copilot/cli/attach-command';

const KEY = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----';
const CA = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-attached-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the attached project file', () => {
  it('is written 0600 with the PEM files beside it, and the agent config reads it', () => {
    const workDir = tempDir();
    writeProjectFile(workDir, {
      projectName: 'Test # project',
      jobManagerAddress: 'jm@example.org jm2@example.org',
      xmppServer: 'xmpp.example.org:5222',
      xmppDomain: 'example.org',
      xmppUsername: 'v-abc',
      xmppPassword: 'secret pass',
      requireTls: true,
      secureMode: true,
      jobManagerPublicKey: KEY,
      xmppCaCertificate: CA,
      allowedImageRegistries: 'registry.example.org/copilot',
      adminAccounts: 'admin@example.org',
    });
    expect(fs.statSync(projectFilePath(workDir)).mode & 0o777).toBe(0o600);
    expect(readProjectFile(workDir)?.get('AGENT_JABBER_PASSWORD')).toBe('secret pass');
    const config = loadAgentConfig({ argv: [`--AGENT_WORK_DIR=${workDir}`], env: {} });
    expect(config.settings).toMatchObject({
      projectName: 'Test # project',
      jobManagerAddress: 'jm@example.org jm2@example.org',
      xmppUsername: 'v-abc',
      xmppPassword: 'secret pass',
      requireTls: true,
      secureMode: true,
      jobManagerPublicKey: KEY,
      xmppCaCertificate: CA,
      adminAccounts: 'admin@example.org',
    });
  });

  it('refuses a value with a line break (it would add a variable)', () => {
    expect(() =>
      writeProjectFile(tempDir(), { projectName: 'x\nAGENT_JABBER_SERVER evil.example' }),
    ).toThrow(/line break/);
  });

  it('lets an agent with no project and a GUI RPC port start unattached, and only then', () => {
    const workDir = tempDir();
    const unattached = loadAgentConfig({
      argv: [`--AGENT_WORK_DIR=${workDir}`, '--AGENT_GUI_RPC_PORT=31416'],
      env: {},
      allowUnattached: true,
    });
    expect(unattached.settings.jobManagerAddress).toBe('');
    expect(() =>
      loadAgentConfig({ argv: [`--AGENT_WORK_DIR=${workDir}`], env: {}, allowUnattached: true }),
    ).toThrow(/JM_JABBER_ADDRESS/);
    expect(() =>
      loadAgentConfig({
        argv: [`--AGENT_WORK_DIR=${workDir}`, '--AGENT_GUI_RPC_PORT=31416'],
        env: {},
      }),
    ).toThrow(/JM_JABBER_ADDRESS/);
  });
});

describe('--attach', () => {
  it('takes the link after --attach or after =, and is removed before the config is read', () => {
    expect(attachArgument(['--attach', 'copilot://attach?v=1', '--x'])).toBe(
      'copilot://attach?v=1',
    );
    expect(attachArgument(['--attach=file.copilot'])).toBe('file.copilot');
    expect(attachArgument(['--config', 'a'])).toBeUndefined();
    expect(() => attachArgument(['--attach'])).toThrow(/needs a link/);
    expect(withoutAttachArgument(['--attach', 'L', '--config', 'c', '--attach=M'])).toEqual([
      '--config',
      'c',
    ]);
  });
});
