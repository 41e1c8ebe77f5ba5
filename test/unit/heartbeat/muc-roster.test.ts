import { xml } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { MucRoster } from '@copilot/heartbeat/muc-roster';

const ROOM = 'room@conference.localhost';
const presence = (
  nick: string,
  options: { type?: string; codes?: string[]; jid?: string; status?: string } = {},
) =>
  xml(
    'presence',
    { from: `${ROOM}/${nick}`, ...(options.type ? { type: options.type } : {}) },
    xml(
      'x',
      { xmlns: 'http://jabber.org/protocol/muc#user' },
      xml('item', {
        affiliation: 'none',
        role: 'participant',
        ...(options.jid ? { jid: options.jid } : {}),
      }),
      ...(options.codes ?? []).map((code) => xml('status', { code })),
    ),
    ...(options.status ? [xml('status', {}, options.status)] : []),
  );

describe('MucRoster', () => {
  it('tracks joins, self-presence, real JIDs, status text and leaves', () => {
    const roster = new MucRoster(ROOM);
    expect(roster.apply(presence('alpha', { jid: 'jm@localhost/alpha' })).kind).toBe('joined');
    expect(
      roster.apply(presence('cli', { codes: ['110'], status: 'copilot-heartbeat' })).kind,
    ).toBe('self-joined');
    expect(roster.members().map((m) => [m.nick, m.realJid, m.status])).toEqual([
      ['alpha', 'jm@localhost/alpha', undefined],
      ['cli', undefined, 'copilot-heartbeat'],
    ]);
    expect(roster.apply(presence('alpha', { type: 'unavailable' })).kind).toBe('left');
    expect(roster.members().map((m) => m.nick)).toEqual(['cli']);
  });

  it('reports a nickname conflict and ignores other rooms and users', () => {
    const roster = new MucRoster(ROOM);
    const conflict = xml(
      'presence',
      { from: `${ROOM}/alpha`, type: 'error' },
      xml(
        'error',
        { type: 'cancel' },
        xml('conflict', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }),
      ),
    );
    expect(roster.apply(conflict)).toEqual({ kind: 'error', nick: 'alpha', condition: 'conflict' });
    expect(roster.apply(xml('presence', { from: 'other@conference.localhost/x' })).kind).toBe(
      'ignored',
    );
    expect(roster.apply(xml('presence', { from: 'user@localhost/res' })).kind).toBe('ignored');
    expect(roster.members()).toEqual([]);
  });

  it('keeps listed occupants beside those known from presence; presence wins, leaves remove', () => {
    const roster = new MucRoster(ROOM);
    roster.apply(presence('mod', { status: 'copilot-heartbeat' }));
    roster.setListed([
      { nick: 'mod', roomJid: `${ROOM}/mod`, role: 'moderator' },
      { nick: 'a1', roomJid: `${ROOM}/a1`, role: 'participant', realJid: 'a@x/1' },
      { nick: 'a2', roomJid: `${ROOM}/a2`, role: 'participant' },
    ]);
    expect(roster.members().map((m) => [m.nick, m.status ?? m.realJid])).toEqual([
      ['a1', 'a@x/1'],
      ['a2', undefined],
      ['mod', 'copilot-heartbeat'],
    ]);
    expect(roster.get('a1')?.realJid).toBe('a@x/1');
    roster.apply(presence('a2', { type: 'unavailable' }));
    expect(roster.members().map((m) => m.nick)).toEqual(['a1', 'mod']);
    roster.setListed([]);
    expect(roster.members().map((m) => m.nick)).toEqual(['mod']);
    roster.setListed([{ nick: 'a3', roomJid: `${ROOM}/a3`, role: 'participant' }]);
    roster.clear();
    expect(roster.members()).toEqual([]);
  });
});
