import { describe, expect, it } from 'vitest';
import { xml } from '@xmpp/xml';
import {
  DISCO_ITEMS_NS,
  MUC_ADMIN_NS,
  iqErrorCondition,
  occupantsFromAdminResult,
  occupantsFromDiscoItems,
  roleQuery,
} from '@copilot/heartbeat/room-occupants';

const ROOM = 'lounge@conf.x';

describe('room occupant queries', () => {
  it('asks muc#admin for one role', () => {
    expect(roleQuery('participant').toString()).toBe(
      `<query xmlns="${MUC_ADMIN_NS}"><item role="participant"/></query>`,
    );
  });

  it('reads nick, role and real JID from a muc#admin result, skipping items without a nick', () => {
    const result = xml(
      'iq',
      { type: 'result', from: ROOM },
      xml(
        'query',
        { xmlns: MUC_ADMIN_NS },
        xml('item', { nick: 'a1', role: 'participant', jid: 'agent@x/a1', affiliation: 'none' }),
        xml('item', { role: 'participant', jid: 'nonick@x/r' }),
        xml('item', { nick: 'a2', role: 'participant' }),
      ),
    );
    expect(occupantsFromAdminResult(result, ROOM)).toEqual([
      { nick: 'a1', roomJid: `${ROOM}/a1`, role: 'participant', realJid: 'agent@x/a1' },
      { nick: 'a2', roomJid: `${ROOM}/a2`, role: 'participant' },
    ]);
    expect(occupantsFromAdminResult(xml('iq', { type: 'result' }), ROOM)).toEqual([]);
  });

  it("takes only this room's occupants from disco#items, any case of the bare part", () => {
    const result = xml(
      'iq',
      { type: 'result' },
      xml(
        'query',
        { xmlns: DISCO_ITEMS_NS },
        xml('item', { jid: `${ROOM}/a1`, name: 'a1' }),
        xml('item', { jid: 'LOUNGE@conf.x/with/slash' }),
        xml('item', { jid: 'other@conf.x/a3' }),
        xml('item', { jid: ROOM }),
      ),
    );
    expect(occupantsFromDiscoItems(result, ROOM).map((occupant) => occupant.nick)).toEqual([
      'a1',
      'with/slash',
    ]);
    expect(occupantsFromDiscoItems(result, ROOM)[0]).toEqual({
      nick: 'a1',
      roomJid: `${ROOM}/a1`,
      role: 'unknown',
    });
  });

  it('reads the condition of a stanza error, nothing from other errors', () => {
    expect(iqErrorCondition({ condition: 'forbidden' })).toBe('forbidden');
    expect(iqErrorCondition(new Error('timeout'))).toBeUndefined();
    expect(iqErrorCondition(undefined)).toBeUndefined();
  });
});
