import { describe, expect, it } from 'vitest';
import type { RoomOccupant } from '@copilot/heartbeat/muc-roster';
import { resolveTargets } from '@copilot/heartbeat/target-resolution';

const ROOM = 'pilots-lounge@conference.xmpp.cern.ch';
const member = (nick: string, extra: Partial<RoomOccupant> = {}): RoomOccupant => ({
  nick,
  roomJid: `${ROOM}/${nick}`,
  role: 'participant',
  ...extra,
});
const members = [
  member('alpha', { realJid: 'jmgeneric@xmpp.cern.ch/alpha' }),
  member('e48b-42d9'),
  member('25af-ecf4'),
  member('heartbeat-1234-abcd', { status: 'copilot-heartbeat' }),
  member('me'),
];

describe('resolveTargets', () => {
  it('no JIDs: every member but ourselves and command-line clients', () => {
    const result = resolveTargets({
      requested: [],
      roomJid: ROOM,
      members,
      selfNick: 'me',
      skipStatus: 'copilot-heartbeat',
    });
    expect(result.targets.map((target) => target.label)).toEqual([
      'alpha',
      'e48b-42d9',
      '25af-ecf4',
    ]);
    expect(result.targets[0]).toEqual({ label: 'alpha', address: `${ROOM}/alpha`, requested: '' });
    expect(result.unknown).toEqual([]);
  });

  it('listing 4.19: full JID, room JID and bare nickname', () => {
    const result = resolveTargets({
      requested: ['jmgeneric@xmpp.cern.ch/alpha', `${ROOM}/e48b-42d9`, '25af-ecf4'],
      roomJid: ROOM,
      members,
    });
    expect(result.targets).toEqual([
      { label: 'alpha', address: `${ROOM}/alpha`, requested: 'jmgeneric@xmpp.cern.ch/alpha' },
      { label: 'e48b-42d9', address: `${ROOM}/e48b-42d9`, requested: `${ROOM}/e48b-42d9` },
      { label: '25af-ecf4', address: `${ROOM}/25af-ecf4`, requested: '25af-ecf4' },
    ]);
  });

  it('a full JID the room does not reveal is addressed directly, labelled with its resource', () => {
    const result = resolveTargets({ requested: ['jm@xmpp.cern.ch/beta'], roomJid: ROOM, members });
    expect(result.targets).toEqual([
      { label: 'beta', address: 'jm@xmpp.cern.ch/beta', requested: 'jm@xmpp.cern.ch/beta' },
    ]);
  });

  it('unknown nicknames, unknown room JIDs and bare JIDs are reported, not sent', () => {
    const result = resolveTargets({
      requested: ['nobody', `${ROOM}/nobody`, 'someone@xmpp.cern.ch'],
      roomJid: ROOM,
      members,
    });
    expect(result.targets).toEqual([]);
    expect(result.unknown).toEqual(['nobody', `${ROOM}/nobody`, 'someone@xmpp.cern.ch']);
  });

  it('the same member named twice is asked once; room JIDs compare case-insensitively', () => {
    const result = resolveTargets({
      requested: ['alpha', `${ROOM.toUpperCase()}/alpha`],
      roomJid: ROOM,
      members,
    });
    expect(result.targets).toHaveLength(1);
  });
});
