import { describe, expect, it } from 'vitest';
import { ConfigValues } from '@copilot/protocol';
import { allowedSendersWarning, monitorConfigFrom } from '@manager/monitor/monitor-config';

const base = {
  MON_JABBER_SERVER: 'xmpp.cern.ch',
  MON_JABBER_DOMAIN: 'xmpp.cern.ch',
  MON_JABBER_ID: 'monitor',
  MON_JABBER_PASSWORD: 'secret',
};

describe('monitor configuration', () => {
  it('defaults and the report variables', () => {
    const config = monitorConfigFrom(
      ConfigValues.from({ env: { ...base, CARBON_SERVER: 'graphite', CARBON_PORT: '2023' } }),
    );
    expect(config).toEqual({
      jabber: { server: 'xmpp.cern.ch', domain: 'xmpp.cern.ch', id: 'monitor', password: 'secret' },
      carbon: { host: 'graphite', port: 2023 },
      sampleSeconds: 5,
      http: { host: '127.0.0.1', port: 8000 },
      pollSeconds: 10,
      carbonBufferLines: 100_000,
      allowedSenders: [],
      maxSeries: 5000,
    });
    expect(allowedSendersWarning(config)).toMatch(/No sender may report.*Set MON_ALLOWED_SENDERS/);
  });

  it('MON_ALLOWED_SENDERS: white space or commas; MON_MAX_SERIES', () => {
    const config = monitorConfigFrom(
      ConfigValues.from({
        env: {
          ...base,
          MON_ALLOWED_SENDERS: 'jmgeneric@xmpp.cern.ch, jm2@xmpp.cern.ch/beta\n*@agents.cern.ch',
          JM_JABBER_ADDRESS: 'ignored@xmpp.cern.ch',
          MON_MAX_SERIES: '100',
        },
      }),
    );
    expect(config.allowedSenders).toEqual([
      'jmgeneric@xmpp.cern.ch',
      'jm2@xmpp.cern.ch/beta',
      '*@agents.cern.ch',
    ]);
    expect(config.maxSeries).toBe(100);
    expect(allowedSendersWarning(config)).toBeUndefined();
  });

  it('unset, MON_ALLOWED_SENDERS defaults to the reporting accounts the configuration names', () => {
    const config = monitorConfigFrom(
      ConfigValues.from({
        env: {
          ...base,
          JM_JABBER_ADDRESS: 'jmgeneric@xmpp.cern.ch',
          JM_JABBER_ID: 'jmgeneric',
          JM_JABBER_DOMAIN: 'xmpp.cern.ch',
          AGENT_JABBER_ID: 'agent@agents.cern.ch',
        },
      }),
    );
    expect(config.allowedSenders).toEqual(['jmgeneric@xmpp.cern.ch', 'agent@agents.cern.ch']);
  });

  it('a bad sender entry or series cap names the variable', () => {
    for (const entry of ['*', 'xmpp.cern.ch', 'a@b/c *@d/e']) {
      expect(() =>
        monitorConfigFrom(ConfigValues.from({ env: { ...base, MON_ALLOWED_SENDERS: entry } })),
      ).toThrow(/MON_ALLOWED_SENDERS/);
    }
    expect(() =>
      monitorConfigFrom(ConfigValues.from({ env: { ...base, JM_JABBER_ADDRESS: 'nobody' } })),
    ).toThrow(/MON_ALLOWED_SENDERS: 'nobody' \(in the default/);
    expect(() =>
      monitorConfigFrom(ConfigValues.from({ env: { ...base, MON_MAX_SERIES: '0' } })),
    ).toThrow(/MON_MAX_SERIES/);
  });

  it('our additions: sample period, HTTP port, Heartbeat room (HB_* fallback)', () => {
    const config = monitorConfigFrom(
      ConfigValues.from({
        env: {
          ...base,
          MON_SAMPLE_SECONDS: '2',
          MON_HTTP_PORT: '0',
          HB_CHAT_SERVER: 'conference.x',
          HB_CHAT_ROOM: 'lounge',
        },
      }),
    );
    expect(config).toMatchObject({
      sampleSeconds: 2,
      http: { port: 0 },
      chat: { server: 'conference.x', room: 'lounge' },
    });
  });

  it('missing or bad values name the variable', () => {
    expect(() => monitorConfigFrom(ConfigValues.from({ env: {} }))).toThrow(/MON_JABBER_SERVER/);
    expect(() =>
      monitorConfigFrom(ConfigValues.from({ env: { ...base, CARBON_PORT: 'x' } })),
    ).toThrow(/CARBON_PORT/);
  });
});

describe('fleet console configuration', () => {
  const room = { MON_CHAT_SERVER: 'conference.xmpp.cern.ch', MON_CHAT_ROOM: 'pilots-lounge' };

  it('MON_CONSOLE_*: its own account, server and domain from MON_JABBER_* unless given', () => {
    const config = monitorConfigFrom(
      ConfigValues.from({
        env: {
          ...base,
          ...room,
          MON_CONSOLE_JABBER_ID: 'console',
          MON_CONSOLE_JABBER_PASSWORD: 'console-secret',
          MON_ADMIN_TOKEN_FILE: '/etc/copilot/monitor-admin-token',
        },
      }),
    );
    expect(config.console).toEqual({
      jabber: {
        server: 'xmpp.cern.ch',
        domain: 'xmpp.cern.ch',
        id: 'console',
        password: 'console-secret',
      },
      adminTokenFile: '/etc/copilot/monitor-admin-token',
    });
  });

  it('no console without MON_CONSOLE_JABBER_ID; read-only without MON_ADMIN_TOKEN_FILE', () => {
    expect(monitorConfigFrom(ConfigValues.from({ env: { ...base, ...room } })).console).toBe(
      undefined,
    );
    const readOnly = monitorConfigFrom(
      ConfigValues.from({
        env: {
          ...base,
          ...room,
          MON_CONSOLE_JABBER_ID: 'console@admin.cern.ch',
          MON_CONSOLE_JABBER_PASSWORD: 'x',
          MON_CONSOLE_JABBER_DOMAIN: 'admin.cern.ch',
        },
      }),
    );
    expect(readOnly.console?.adminTokenFile).toBe(undefined);
    expect(readOnly.console?.jabber.domain).toBe('admin.cern.ch');
  });

  it('a token without a console, a console without a room or a password, are errors', () => {
    const make = (env: Record<string, string>) => () =>
      monitorConfigFrom(ConfigValues.from({ env: { ...base, ...env } }));
    expect(make({ ...room, MON_ADMIN_TOKEN_FILE: '/t' })).toThrow(/needs the fleet console/);
    expect(make({ MON_CONSOLE_JABBER_ID: 'c', MON_CONSOLE_JABBER_PASSWORD: 'p' })).toThrow(
      /needs the Heartbeat room/,
    );
    expect(make({ ...room, MON_CONSOLE_JABBER_ID: 'c' })).toThrow(/MON_CONSOLE_JABBER_PASSWORD/);
  });
});
