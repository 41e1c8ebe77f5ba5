import { describe, expect, it } from 'vitest';
import { xml } from '@xmpp/xml';
import {
  CREATE_ACCOUNT_INVITE_NODE,
  InviteError,
  NS_COMMANDS,
  NS_DATA_FORMS,
  inviteFromCommandResult,
  preauthTokenOf,
} from '@copilot/transport/xmpp-invite';

/** The answer Prosody 0.12's mod_invites_adhoc gives (adhoc.lib.lua: the form as type='form'). */
function answer(
  options: { status?: string; type?: string; uri?: string | null; note?: string } = {},
) {
  const fields = [
    xml('field', { var: 'landing-url', label: 'Invite web page' }),
    ...(options.uri === null
      ? []
      : [
          xml(
            'field',
            { var: 'uri', label: 'Invite URI' },
            xml('value', {}, options.uri ?? 'xmpp:example.org?register;preauth=AbCdEf123456'),
          ),
        ]),
    xml('field', { var: 'expire' }, xml('value', {}, '2026-12-08T10:00:00Z')),
  ];
  return xml(
    'command',
    {
      xmlns: NS_COMMANDS,
      node: CREATE_ACCOUNT_INVITE_NODE,
      status: options.status ?? 'completed',
      sessionid: 's1',
    },
    ...(options.note ? [xml('note', { type: 'error' }, options.note)] : []),
    xml('x', { xmlns: NS_DATA_FORMS, type: options.type ?? 'form' }, ...fields),
  );
}

describe('the invite in an ad-hoc command answer', () => {
  it('reads the token out of the uri field, with the expiry; type form (Prosody) or result', () => {
    expect(inviteFromCommandResult(answer())).toEqual({
      token: 'AbCdEf123456',
      uri: 'xmpp:example.org?register;preauth=AbCdEf123456',
      expires: '2026-12-08T10:00:00Z',
    });
    expect(inviteFromCommandResult(answer({ type: 'result' })).token).toBe('AbCdEf123456');
  });

  it('refuses answers without an invite, with the server text escaped', () => {
    expect(() => inviteFromCommandResult(undefined)).toThrow(InviteError);
    expect(() => inviteFromCommandResult(answer({ status: 'executing' }))).toThrow(
      /did not complete/,
    );
    expect(() => inviteFromCommandResult(answer({ uri: null }))).toThrow(/no invite URI/);
    expect(() => inviteFromCommandResult(answer({ type: 'cancel' }))).toThrow(/no data form/);
    expect(() =>
      inviteFromCommandResult(answer({ uri: 'xmpp:example.org?register;preauth=a b<c>' })),
    ).toThrow(/no invite URI/);
    const noted = (): unknown => inviteFromCommandResult(answer({ note: 'no\u001b[31m way' }));
    expect(noted).toThrow(/the server said/);
    expect(
      String(
        (() => {
          try {
            noted();
          } catch (error) {
            return (error as Error).message;
          }
          return '';
        })(),
      ),
    ).not.toContain('\u001b');
  });

  it('takes the preauth token from XEP-0401 URIs only when it is a plain token', () => {
    expect(preauthTokenOf('xmpp:d.org?register;preauth=Tok_en-1234')).toBe('Tok_en-1234');
    expect(preauthTokenOf('xmpp:u@d.org?roster;preauth=Tok_en-1234;ibr=y')).toBe('Tok_en-1234');
    expect(preauthTokenOf('xmpp:d.org?register')).toBeUndefined();
    expect(preauthTokenOf('xmpp:d.org?register;preauth=short')).toBeUndefined();
  });
});
