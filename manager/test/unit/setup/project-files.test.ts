import { describe, expect, it } from 'vitest';
import { ConfigValues, parseConfigText } from '@copilot/protocol/config-file';
import { configFromValues } from '@manager/job-manager/manager-config';
import { monitorConfigFrom } from '@manager/monitor/monitor-config';
import {
  environmentLine,
  managerConfigText,
  managerEnvText,
  monitorConfigText,
  monitorEnvText,
  prosodyAccountsScript,
  prosodySnippet,
  type ProjectPlan,
} from '@manager/setup/project-files';

const PLAN: ProjectPlan = {
  projectName: 'Test project',
  domain: 'copilot.example.org',
  xmppServer: 'xmpp.example.org:5222',
  mucDomain: 'conference.copilot.example.org',
  room: 'pilots-lounge',
  configDir: '/etc/copilot',
  stateDir: '/var/lib/copilot-jobmanager',
  storageUrl: 'http://copilot.example.org:8088',
  storagePort: 8088,
  accounts: {
    manager: { username: 'jobmanager', password: 'pw-manager' },
    monitor: { username: 'monitor', password: 'pw-monitor' },
    console: { username: 'fleet-console', password: "it's $secret" },
  },
  caFile: '/etc/copilot/xmpp-ca.pem',
  monitorHttpPort: 8000,
};

/** What systemd's EnvironmentFile parser makes of a double-quoted value. */
function systemdValue(line: string): string {
  const quoted = /^[A-Z_]+="(.*)"$/.exec(line)?.[1] ?? '';
  return quoted.replace(/\\(.)/g, '$1');
}

describe('the files of a new project', () => {
  it('gives a manager config that the manager accepts once the env file adds the password', () => {
    const file = parseConfigText(managerConfigText(PLAN));
    expect(file.has('JM_JABBER_PASSWORD')).toBe(false);
    const env = { JM_JABBER_PASSWORD: systemdValue(managerEnvText(PLAN).split('\n')[1] ?? '') };
    const config = configFromValues(ConfigValues.from({ file, env, overrides: new Map() }));
    expect(config.xmpp).toMatchObject({
      service: 'xmpp://xmpp.example.org:5222',
      domain: 'copilot.example.org',
      username: 'jobmanager',
      password: 'pw-manager',
    });
    expect(config.heartbeat).toEqual({
      chatServer: 'conference.copilot.example.org',
      chatRoom: 'pilots-lounge',
    });
    expect(config.monitorAddress).toBe('monitor@copilot.example.org');
    expect(config.stateDir).toBe('/var/lib/copilot-jobmanager');
    expect(file.get('JM_SECURE_MODE')).toBe('1');
    expect(file.get('JM_PRIVATE_KEY')).toBe('/etc/copilot/jm-private.pem');
    expect(file.get('JM_JABBER_CA_FILE')).toBe('/etc/copilot/xmpp-ca.pem');
  });

  it('gives a Monitor config with the console that the Monitor accepts', () => {
    const file = parseConfigText(monitorConfigText(PLAN));
    const envLines = monitorEnvText(PLAN)
      .split('\n')
      .filter((line) => /^[A-Z]/.test(line));
    const env = Object.fromEntries(
      envLines.map((line) => [line.slice(0, line.indexOf('=')), systemdValue(line)]),
    );
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/etc/copilot/xmpp-ca.pem');
    const config = monitorConfigFrom(ConfigValues.from({ file, env, overrides: new Map() }));
    expect(config.jabber.password).toBe('pw-monitor');
    expect(config.console?.jabber).toMatchObject({ id: 'fleet-console', password: "it's $secret" });
    expect(config.allowedSenders).toEqual([
      'jobmanager@copilot.example.org',
      '*@copilot.example.org',
    ]);
  });

  it('escapes what systemd would expand or end the value at', () => {
    expect(environmentLine('X', 'a"b\\c$d`e')).toBe('X="a\\"b\\\\c\\$d\\`e"');
    expect(systemdValue(environmentLine('X', 'a"b\\c$d'))).toBe('a"b\\c$d');
    expect(() => environmentLine('X', 'two\nlines')).toThrow(/one line/);
  });

  it('makes the VirtualHost invite-only with TLS required and the MUC with real JIDs', () => {
    const snippet = prosodySnippet({ ...PLAN, tlsCertificate: '/c.crt', tlsKey: '/c.key' });
    expect(snippet).toContain('VirtualHost "copilot.example.org"');
    expect(snippet).toMatch(/modules_enabled = \{[^}]*"invites_register"[^}]*"register_ibr"/);
    expect(snippet).toContain('registration_invite_only = true');
    expect(snippet).toContain('c2s_require_encryption = true');
    expect(snippet).toContain('ssl = { certificate = "/c.crt"; key = "/c.key"; }');
    expect(snippet).toContain('Component "conference.copilot.example.org" "muc"');
    expect(snippet).toContain('muc_room_default_public_jids = true');
    expect(snippet).toContain('muc_room_default_presence_broadcast = { moderator = true }');
    expect(snippet).toMatch(/^ {2}admins = \{ "[^"]+@[^"]+"; "[^"]+@[^"]+" \}$/m);
  });

  it('registers the three accounts with their passwords quoted for the shell', () => {
    const script = prosodyAccountsScript(PLAN);
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(
      `$PROSODYCTL register 'jobmanager' 'copilot.example.org' 'pw-manager'`,
    );
    expect(script).toContain(`'fleet-console' 'copilot.example.org' 'it'\\''s $secret'`);
  });
});
