import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInvocation, UsageError } from '@manager/bin/copilot-heartbeat';
import { sessionOptionsFor } from '@copilot/heartbeat/xmpp-account';

describe('copilot-heartbeat arguments', () => {
  const configFile = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-conf-'));
    const file = path.join(dir, 'copilot-heartbeat.conf');
    fs.writeFileSync(
      file,
      '# test\nHB_JABBER_SERVER xmpp.example.org\nHB_JABBER_DOMAIN example.org\nHB_JABBER_ID hb\nHB_JABBER_PASSWORD secret\nHB_CHAT_SERVER conference.example.org\nHB_CHAT_ROOM pilots-lounge\n',
    );
    return file;
  };

  it('reads the file; env and flags override (listing 4.18)', () => {
    const invocation = parseInvocation(
      [`--config=${configFile()}`, '--chat-room=dev-env', 'list'],
      {
        HB_JABBER_ID: 'from-env',
      },
    );
    expect(invocation?.command).toBe('list');
    expect(invocation?.config.required('HB_CHAT_ROOM')).toBe('dev-env');
    expect(invocation?.config.required('HB_JABBER_ID')).toBe('from-env');
    expect(invocation?.config.required('HB_CHAT_SERVER')).toBe('conference.example.org');
  });

  it('command defaults to systemLoad; the rest are targets; --timeout and --json', () => {
    const invocation = parseInvocation(['--timeout=2.5', '--json', 'alpha', 'e48b-42d9'], {});
    expect(invocation).toMatchObject({
      command: 'systemLoad',
      targets: ['alpha', 'e48b-42d9'],
      timeoutMs: 2500,
      json: true,
    });
    expect(parseInvocation(['ping', 'alpha'], {})).toMatchObject({
      command: 'ping',
      targets: ['alpha'],
    });
  });

  it('usage errors', () => {
    expect(() => parseInvocation(['--bogus=1'], {})).toThrow(UsageError);
    expect(() => parseInvocation(['--bogus'], {})).toThrow(/needs a value/);
    expect(() => parseInvocation(['--timeout=never'], {})).toThrow(UsageError);
    expect(() => parseInvocation(['cpuTemperature'], {})).toThrow(
      /unknown command 'cpuTemperature'/,
    );
    expect(parseInvocation(['--help'], {})).toBeUndefined();
  });

  it('turns *_JABBER_* settings into session options', () => {
    expect(
      sessionOptionsFor({
        server: 'xmpp.example.org',
        domain: 'example.org',
        id: 'hb',
        password: 'p',
      }),
    ).toEqual({
      service: 'xmpp://xmpp.example.org:5222',
      domain: 'example.org',
      username: 'hb',
      password: 'p',
    });
    expect(
      sessionOptionsFor({
        server: 'xmpp://127.0.0.1:5333',
        domain: 'd',
        id: 'jm@d/alpha',
        password: 'p',
      }),
    ).toMatchObject({ service: 'xmpp://127.0.0.1:5333', username: 'jm', resource: 'alpha' });
  });
});
