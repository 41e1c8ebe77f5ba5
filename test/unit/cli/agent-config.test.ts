import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sessionSecurity } from '@copilot/core/xmpp-connection';
import {
  applySettingsOverlay,
  ConfigError,
  loadAgentConfig,
  saveSettingsOverlay,
} from '@copilot/cli/agent-config';

const FILE = `# agent
JM_JABBER_ADDRESS       jobmanager@xmpp.example.org
AGENT_JABBER_SERVER     xmpp.example.org:5222
AGENT_JABBER_DOMAIN     xmpp.example.org
AGENT_JABBER_ID         agent-42
AGENT_JABBER_PASSWORD   pass word
AGENT_WORK_DIR          /var/lib/copilot-agent
AGENT_CPU_LIMIT_PERCENT 25
AGENT_JOB_SLOTS         2
`;

function load(
  argv: string[],
  env: Record<string, string> = {},
  text = FILE,
): ReturnType<typeof loadAgentConfig> {
  return loadAgentConfig({
    argv: ['--config', '/etc/agent.conf', ...argv],
    env,
    readFile: () => text,
  });
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('agent config', () => {
  it('reads the report format into settings and options', () => {
    const config = load([]);
    expect(config.settings).toMatchObject({
      jobManagerAddress: 'jobmanager@xmpp.example.org',
      xmppServer: 'xmpp.example.org:5222',
      xmppDomain: 'xmpp.example.org',
      xmppUsername: 'agent-42',
      xmppPassword: 'pass word',
      cpuLimitPercent: 25,
      jobSlots: 2,
      runOnlyWhenIdle: false,
    });
    expect(config).toMatchObject({
      workDir: '/var/lib/copilot-agent',
      jobImage: 'copilot-job:latest',
      wallClockLimitSeconds: 86400,
      guiRpcPort: undefined,
      monitorAddress: undefined,
    });
  });

  it('environment overrides the file and the command line overrides both', () => {
    const config = load(['--AGENT_JOB_SLOTS=4', '--AGENT_GUI_RPC_PORT=31416'], {
      AGENT_JOB_SLOTS: '3',
      MON_JABBER_ADDRESS: 'mon@xmpp.example.org',
      AGENT_MEMORY_LIMIT_MB: '512',
    });
    expect(config.settings.jobSlots).toBe(4);
    expect(config.settings.memoryLimitMb).toBe(512);
    expect(config.guiRpcPort).toBe(31416);
    expect(config.monitorAddress).toBe('mon@xmpp.example.org');
  });

  it('accepts a full JID as AGENT_JABBER_ID', () => {
    const text = FILE.replace('agent-42', 'agent-42@xmpp.example.org').replace(
      /AGENT_JABBER_DOMAIN.*\n/,
      '',
    );
    const config = load([], {}, text);
    expect(config.settings).toMatchObject({
      xmppUsername: 'agent-42',
      xmppDomain: 'xmpp.example.org',
    });
  });

  it('names the variable in every error', () => {
    expect(errorOf(() => load([], {}, FILE.replace(/JM_JABBER_ADDRESS.*\n/, ''))).variable).toBe(
      'JM_JABBER_ADDRESS',
    );
    expect(errorOf(() => load(['--AGENT_CPU_LIMIT_PERCENT=150'])).message).toMatch(
      /AGENT_CPU_LIMIT_PERCENT must be between 1 and 100/,
    );
    expect(errorOf(() => load(['--AGENT_JOB_SLOTS=two'])).variable).toBe('AGENT_JOB_SLOTS');
    expect(errorOf(() => load(['--JM_JABBER_ADDRESS=not a jid'])).message).toMatch(
      /^JM_JABBER_ADDRESS: must be a Jabber ID/,
    );
    expect(errorOf(() => load(['--HB_CHAT_SERVER=conference.x'])).variable).toBe('HB_CHAT_ROOM');
    expect(errorOf(() => load(['--AGENT_GUI_RPC_PORT=70000'])).variable).toBe('AGENT_GUI_RPC_PORT');
    expect(errorOf(() => load([], {}, FILE.replace('agent-42', 'a@other.org'))).variable).toBe(
      'AGENT_JABBER_ID',
    );
    expect(errorOf(() => load([], {}, 'BAD-NAME x\n')).message).toMatch(
      /agent.conf:1: invalid variable name/,
    );
    expect(
      errorOf(() =>
        loadAgentConfig({
          argv: ['--config', '/nope'],
          env: {},
          readFile: () => {
            throw new Error('ENOENT');
          },
        }),
      ).message,
    ).toMatch(/cannot read the config file \/nope/);
  });

  it('AGENT_WIRE_FORMAT and AGENT_WIRE_FORMAT_NEW_PEERS choose the form of 2.1 per peer', () => {
    expect(load([]).wireFormat).toEqual({ mode: 'auto', newPeers: 'both' });
    expect(
      load(['--AGENT_WIRE_FORMAT=namespaced'], { AGENT_WIRE_FORMAT_NEW_PEERS: 'report' })
        .wireFormat,
    ).toEqual({ mode: 'namespaced', newPeers: 'report' });
    expect(errorOf(() => load(['--AGENT_WIRE_FORMAT=xml'])).variable).toBe('AGENT_WIRE_FORMAT');
  });

  it('keeps GUI settings changes in an overlay that wins over the file, but not for connection fields', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overlay-'));
    try {
      const config = load([]);
      saveSettingsOverlay(
        { ...config.settings, cpuLimitPercent: 80, paused: true, xmppPassword: 'changed' },
        dir,
      );
      expect(fs.readFileSync(path.join(dir, 'agent-settings.json'), 'utf8')).not.toContain(
        'changed',
      );
      const merged = applySettingsOverlay(config.settings, dir);
      expect(merged).toMatchObject({
        cpuLimitPercent: 80,
        paused: true,
        xmppPassword: 'pass word',
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('settings overlay', () => {
  it('a truncated or foreign overlay is ignored like an invalid one: the agent still starts', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overlay-'));
    try {
      const config = load([]);
      const file = path.join(dir, 'agent-settings.json');
      for (const text of ['{"cpuLimitPercent": 8', 'null', '42']) {
        fs.writeFileSync(file, text);
        expect(applySettingsOverlay(config.settings, dir)).toEqual(config.settings);
      }
      saveSettingsOverlay({ ...config.settings, jobSlots: 2 }, dir);
      expect(fs.readdirSync(dir)).toEqual(['agent-settings.json']);
      expect(applySettingsOverlay(config.settings, dir).jobSlots).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('secure mode and TLS from the agent config', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const files: Record<string, string> = { '/etc/agent.conf': FILE, '/etc/jm-public.pem': pem };
  const loadWith = (overrides: string[]) =>
    loadAgentConfig({
      argv: ['--config', '/etc/agent.conf', ...overrides],
      env: {},
      readFile: (file) => {
        const text = files[file];
        if (text === undefined) throw new Error(`ENOENT: ${file}`);
        return text;
      },
    });

  it('reads the key file named by JM_PUBLIC_KEY into the settings, and builds the layer', () => {
    const config = loadWith(['--AGENT_SECURE_MODE=1', '--JM_PUBLIC_KEY=/etc/jm-public.pem']);
    expect(config.settings).toMatchObject({ secureMode: true, jobManagerPublicKey: pem.trim() });
    const security = sessionSecurity(config.settings);
    expect(security.layers).toHaveLength(1);
    expect(security.tls).toBeUndefined();
  });

  it('names the variable when secure mode has no key or the file cannot be read', () => {
    expect(errorOf(() => loadWith(['--AGENT_SECURE_MODE=1'])).message).toMatch(
      /^JM_PUBLIC_KEY must/,
    );
    const unreadable = errorOf(() =>
      loadWith(['--AGENT_SECURE_MODE=yes', '--JM_PUBLIC_KEY=/etc/missing.pem']),
    );
    expect(unreadable.message).toMatch(/^JM_PUBLIC_KEY: cannot read \/etc\/missing.pem/);
    files['/etc/not-a-key.pem'] = 'hello';
    expect(
      errorOf(() => loadWith(['--AGENT_SECURE_MODE=1', '--JM_PUBLIC_KEY=/etc/not-a-key.pem']))
        .message,
    ).toMatch(/^JM_PUBLIC_KEY: must be a PEM public key/);
  });

  it('turns a CA file and AGENT_REQUIRE_TLS into TLS options', () => {
    const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';
    files['/etc/ca.pem'] = cert;
    const config = loadWith(['--AGENT_JABBER_CA_FILE=/etc/ca.pem', '--AGENT_REQUIRE_TLS=1']);
    expect(sessionSecurity(config.settings)).toEqual({ tls: { requireTls: true, ca: cert } });
  });

  it('a key that parses as PEM but not as a key is a clear connection error', () => {
    const settings = { ...loadWith([]).settings, secureMode: true, jobManagerPublicKey: 'garbage' };
    expect(() => sessionSecurity(settings)).toThrow(
      /^secure mode: the job manager's public key cannot be read/,
    );
  });
});
