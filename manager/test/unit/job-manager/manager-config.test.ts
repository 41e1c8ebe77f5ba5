import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigValues } from '@copilot/protocol';
import { loadMonitorConfig } from '@manager/monitor/monitor-config';
import { parseInvocation } from '@manager/bin/copilot-heartbeat';
import {
  configFromValues,
  loadConfigValues,
  loadJobManagerConfig,
  xmppService,
} from '@manager/job-manager/manager-config';

const REQUIRED = {
  JM_JABBER_SERVER: 'xmpp.cern.ch',
  JM_JABBER_DOMAIN: 'xmpp.cern.ch',
  JM_JABBER_ID: 'jm',
  JM_JABBER_PASSWORD: 'pw',
};

function config(values: Record<string, string>) {
  return configFromValues(ConfigValues.from({ file: new Map(Object.entries(values)) }), '/srv');
}

function errorOf(run: () => unknown): ConfigError | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  return undefined;
}

describe('job manager config', () => {
  it('applies the defaults', () => {
    const result = config(REQUIRED);
    expect(result).toMatchObject({
      xmpp: {
        service: 'xmpp://xmpp.cern.ch:5222',
        domain: 'xmpp.cern.ch',
        username: 'jm',
        resource: 'jobmanager',
        wireFormat: { mode: 'auto', newPeers: 'both' },
      },
      role: 'all',
      stateDir: '/srv/copilot-jm-state',
      queueDb: '/srv/copilot-jm-state/queue.sqlite',
      doneJobDir: '/srv/copilot-jm-state/done',
      waitingJobsList: 'waiting-jobs',
      storagePort: 8088,
      leaseMs: 6 * 3600 * 1000,
      maxUploadBytes: 1024 * 1024 * 1024,
    });
    expect(result.redisServer).toBeUndefined();
    expect(result.monitorAddress).toBeUndefined();
  });

  it('reads how many storage connections one address may hold (many volunteers share a NAT)', () => {
    expect(config(REQUIRED).maxConnectionsPerClient).toBe(256);
    expect(
      config({ ...REQUIRED, JM_STORAGE_MAX_CONNECTIONS_PER_CLIENT: '1000' })
        .maxConnectionsPerClient,
    ).toBe(1000);
    expect(() => config({ ...REQUIRED, JM_STORAGE_MAX_CONNECTIONS_PER_CLIENT: '0' })).toThrow(
      /JM_STORAGE_MAX_CONNECTIONS_PER_CLIENT/,
    );
  });

  it('reads the limits on one account: cooldown, ban file, leases per agent', () => {
    expect(config(REQUIRED)).toMatchObject({ requestCooldownMs: 0, maxLeasesPerAgent: 16 });
    expect(config(REQUIRED).bannedFile).toBeUndefined();
    const limited = config({
      ...REQUIRED,
      JM_REQUEST_COOLDOWN: '1.5',
      JM_BANNED_FILE: 'etc/banned',
      JM_MAX_LEASES_PER_AGENT: '0',
    });
    expect(limited).toMatchObject({
      requestCooldownMs: 1500,
      bannedFile: '/srv/etc/banned',
      maxLeasesPerAgent: 0,
    });
    expect(errorOf(() => config({ ...REQUIRED, JM_REQUEST_COOLDOWN: '-1' }))?.variable).toBe(
      'JM_REQUEST_COOLDOWN',
    );
    expect(errorOf(() => config({ ...REQUIRED, JM_MAX_LEASES_PER_AGENT: '2.5' }))?.variable).toBe(
      'JM_MAX_LEASES_PER_AGENT',
    );
  });

  it('reads every variable of the report and ours', () => {
    const result = config({
      ...REQUIRED,
      JM_JABBER_ID: 'jm@xmpp.cern.ch',
      JM_JABBER_SERVER: 'xmpp.cern.ch:5333',
      JM_JABBER_RESOURCE: 'alpha',
      JM_DONE_JOB_DIR: '/data/done',
      JM_REDIS_SERVER: 'localhost',
      JM_WAITING_JOBS_LIST: 'jobs',
      JM_JOB_REQUIRE_FILE: '/cvmfs/x',
      MON_JABBER_ADDRESS: 'mon@xmpp.cern.ch',
      HB_CHAT_SERVER: 'conference.xmpp.cern.ch',
      HB_CHAT_ROOM: 'pilots-lounge',
      JM_CHIRP_SERVER: 'chirp.cern.ch',
      JM_CHIRP_WORK_DIR: '/chirp',
      JM_STATE_DIR: '/var/lib/jm',
      JM_STORAGE_URL: 'http://jm.cern.ch:8088/',
      JM_STORAGE_PORT: '9000',
      JM_LEASE_SECONDS: '1.5',
      JM_MAX_UPLOAD_MB: '0.5',
      JM_STORAGE_MANAGER_ADDRESS: 'storage@xmpp.cern.ch/s1',
      JM_WIRE_FORMAT: 'namespaced',
      JM_WIRE_FORMAT_NEW_PEERS: 'report',
    });
    expect(result).toMatchObject({
      xmpp: {
        service: 'xmpp://xmpp.cern.ch:5333',
        username: 'jm',
        resource: 'alpha',
        wireFormat: { mode: 'namespaced', newPeers: 'report' },
      },
      doneJobDir: '/data/done',
      queueDb: '/var/lib/jm/queue.sqlite',
      redisServer: 'localhost',
      waitingJobsList: 'jobs',
      requireFile: '/cvmfs/x',
      monitorAddress: 'mon@xmpp.cern.ch',
      heartbeat: { chatServer: 'conference.xmpp.cern.ch', chatRoom: 'pilots-lounge' },
      chirp: { server: 'chirp.cern.ch', workDir: '/chirp', originalAgents: false },
      storageUrl: 'http://jm.cern.ch:8088',
      storagePort: 9000,
      leaseMs: 1500,
      maxUploadBytes: 512 * 1024,
      storageManagerAddress: 'storage@xmpp.cern.ch/s1',
    });
  });

  it('names the variable that is missing or invalid', () => {
    expect(errorOf(() => config({ ...REQUIRED, JM_JABBER_PASSWORD: '' }))?.variable).toBe(
      'JM_JABBER_PASSWORD',
    );
    expect(errorOf(() => config({ ...REQUIRED, JM_STORAGE_PORT: '70000' }))?.variable).toBe(
      'JM_STORAGE_PORT',
    );
    expect(errorOf(() => config({ ...REQUIRED, JM_LEASE_SECONDS: 'soon' }))?.variable).toBe(
      'JM_LEASE_SECONDS',
    );
    expect(errorOf(() => config({ ...REQUIRED, JM_STORAGE_URL: 'ftp://x' }))?.variable).toBe(
      'JM_STORAGE_URL',
    );
    expect(errorOf(() => config({ ...REQUIRED, JM_JABBER_ID: 'jm@other.org' }))?.variable).toBe(
      'JM_JABBER_ID',
    );
    expect(errorOf(() => config({ ...REQUIRED, JM_ROLE: 'boss' }))?.variable).toBe('JM_ROLE');
    expect(errorOf(() => config({ ...REQUIRED, HB_CHAT_ROOM: 'room' }))?.variable).toBe(
      'HB_CHAT_SERVER',
    );
    expect(
      errorOf(() => config({ ...REQUIRED, JM_ROLE: 'storage', JM_STORAGE_MANAGER_ADDRESS: 's@x' }))
        ?.variable,
    ).toBe('JM_STORAGE_MANAGER_ADDRESS');
  });

  it('selects Chirp storage with JM_CHIRP_SERVER and JM_CHIRP_WORK_DIR, set together', () => {
    expect(config(REQUIRED).chirp).toBeUndefined();
    const chirp = {
      JM_CHIRP_SERVER: 'jm.cern.ch;9094',
      JM_CHIRP_WORK_DIR: 'chirp',
      JM_CHIRP_ORIGINAL_AGENTS: 'yes',
    };
    expect(config({ ...REQUIRED, ...chirp }).chirp).toEqual({
      server: 'jm.cern.ch;9094',
      workDir: '/srv/chirp',
      originalAgents: true,
    });
    expect(errorOf(() => config({ ...REQUIRED, JM_CHIRP_SERVER: 'jm' }))?.variable).toBe(
      'JM_CHIRP_WORK_DIR',
    );
    expect(errorOf(() => config({ ...REQUIRED, JM_CHIRP_WORK_DIR: '/c' }))?.variable).toBe(
      'JM_CHIRP_SERVER',
    );
    const url = { JM_CHIRP_SERVER: 'http://jm:9094', JM_CHIRP_WORK_DIR: '/c' };
    expect(errorOf(() => config({ ...REQUIRED, ...url }))?.variable).toBe('JM_CHIRP_SERVER');
  });

  it('turns JM_JABBER_SERVER into a service URL', () => {
    expect(xmppService('localhost')).toBe('xmpp://localhost:5222');
    expect(xmppService('127.0.0.1:15222')).toBe('xmpp://127.0.0.1:15222');
    expect(xmppService('xmpps://x:5223')).toBe('xmpps://x:5223');
    expect(() => xmppService('a b')).toThrow(ConfigError);
  });

  it('reads a config file and lets the environment and --VAR=value override it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-conf-'));
    const file = path.join(dir, 'jm.conf');
    fs.writeFileSync(
      file,
      Object.entries({ ...REQUIRED, JM_JABBER_RESOURCE: 'from-file', JM_STORAGE_PORT: '1' })
        .map(([name, value]) => `${name} ${value}`)
        .join('\n'),
    );
    try {
      const result = loadJobManagerConfig(
        ['--config', file, '--JM_STORAGE_PORT=3', '--role', 'storage'],
        {
          JM_STORAGE_PORT: '2',
          JM_JABBER_RESOURCE: 'from-env',
        },
      );
      expect(result.xmpp.resource).toBe('from-env');
      expect(result.storagePort).toBe(3);
      expect(result.role).toBe('storage');
      expect(() => loadConfigValues(['--config', path.join(dir, 'missing.conf')], {})).toThrow(
        /cannot read config file/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads every tool's --config file the same way: it must exist when named", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-conf-'));
    try {
      const missing = path.join(dir, 'missing.conf');
      for (const load of [
        () => loadConfigValues(['--config', missing], {}),
        () => loadMonitorConfig(['--config', missing], {}),
        () => parseInvocation(['--config', missing], {}),
      ]) {
        expect(load).toThrow(ConfigError);
        expect(load).toThrow(/cannot read config file .*missing.conf/);
      }
      const file = path.join(dir, 'monitor.conf');
      fs.writeFileSync(
        file,
        'MON_JABBER_SERVER x\nMON_JABBER_DOMAIN d\nMON_JABBER_ID m\nMON_JABBER_PASSWORD p\n',
      );
      expect(loadMonitorConfig(['--config', file], {}).config.jabber.id).toBe('m');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
