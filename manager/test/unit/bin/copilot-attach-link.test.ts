import { describe, expect, it } from 'vitest';
import { makeAttachLink, obtainInvite } from '@manager/bin/copilot-attach-link';

const fail = (message: string) => (): Promise<string> => Promise.reject(new Error(message));
const give = (token: string) => (): Promise<string> => Promise.resolve(token);

describe('where copilot-attach-link gets its invite', () => {
  it('takes --invite as given, and --invite-over-xmpp over XMPP without running prosodyctl', async () => {
    const never = fail('not asked');
    expect(
      await obtainInvite({
        token: 'given-token-1',
        overXmpp: true,
        prosodyctlOptions: false,
        prosodyctl: never,
        xmpp: never,
      }),
    ).toEqual({ token: 'given-token-1', source: 'option' });
    expect(
      await obtainInvite({
        overXmpp: true,
        prosodyctlOptions: false,
        prosodyctl: never,
        xmpp: give('xmpp-token-1'),
      }),
    ).toEqual({ token: 'xmpp-token-1', source: 'xmpp' });
  });

  it('falls back to XMPP when prosodyctl fails, and says both reasons when both fail', async () => {
    const how = { overXmpp: false, prosodyctlOptions: false };
    expect(
      await obtainInvite({ ...how, prosodyctl: give('ctl-token-1'), xmpp: fail('not asked') }),
    ).toEqual({ token: 'ctl-token-1', source: 'prosodyctl' });
    expect(
      await obtainInvite({
        ...how,
        prosodyctl: fail('spawn prosodyctl ENOENT'),
        xmpp: give('xmpp-token-2'),
      }),
    ).toEqual({ token: 'xmpp-token-2', source: 'xmpp' });
    await expect(
      obtainInvite({ ...how, prosodyctl: fail('ENOENT'), xmpp: fail('not an admin') }),
    ).rejects.toThrow(/ENOENT.*over XMPP: not an admin/);
  });

  it('does not fall back when prosodyctl was asked for by its options', async () => {
    await expect(
      obtainInvite({
        overXmpp: false,
        prosodyctlOptions: true,
        prosodyctl: fail('permission denied'),
        xmpp: give('xmpp-token-3'),
      }),
    ).rejects.toThrow(/permission denied/);
  });
});

describe('copilot-attach-link arguments', () => {
  const env = {
    JM_JABBER_SERVER: 'xmpp.example.org:5222',
    JM_JABBER_DOMAIN: 'example.org',
    JM_JABBER_ID: 'jm',
    MON_JABBER_ADDRESS: 'monitor@example.org',
  };

  it("puts the config's Monitor in the link unless --monitor says otherwise", async () => {
    const base = ['--name', 'P', '--invite', 'token-12345'];
    const made = await makeAttachLink(base, env);
    expect(made.link).toContain('mon=monitor%40example.org');
    expect((await makeAttachLink([...base, '--monitor', 'none'], env)).link).not.toContain('mon=');
    expect((await makeAttachLink([...base, '--monitor', 'm2@example.org'], env)).link).toContain(
      'mon=m2%40example.org',
    );
    await expect(makeAttachLink([...base, '--monitor', 'not-a-jid'], env)).rejects.toThrow(
      /Monitor addresses/,
    );
  });

  it('takes --qr and --invite-over-xmpp as switches, and refuses unknown options', async () => {
    const made = await makeAttachLink(['--name', 'P', '--invite', 'token-12345', '--qr'], env);
    expect(made.qr?.length).toBeGreaterThan(20);
    await expect(
      makeAttachLink(['--name', 'P', '--invite', 'token-12345', '--qr-png', 'x'], env),
    ).rejects.toThrow(/unknown arguments: --qr-png/);
  });
});
