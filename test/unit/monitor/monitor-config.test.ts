import { describe, expect, it } from 'vitest';
import { ConfigValues } from '../../../src/protocol';
import { monitorConfigFrom } from '../../../manager/monitor/monitor-config';

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
    });
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
