import { describe, expect, it } from 'vitest';
import {
  parseSenderPattern,
  SenderAllowList,
  splitSenderList,
} from '@manager/monitor/sender-allow-list';

describe('MON_ALLOWED_SENDERS allow-list', () => {
  it('splits at white space and commas', () => {
    expect(splitSenderList(' a@x, b@x/r\n*@y ,,')).toEqual(['a@x', 'b@x/r', '*@y']);
    expect(splitSenderList('  ')).toEqual([]);
  });

  it('accepts full JIDs, bare JIDs and *@domain, nothing else', () => {
    expect(parseSenderPattern('jm@xmpp.cern.ch/alpha')).toEqual({
      kind: 'full',
      jid: 'jm@xmpp.cern.ch/alpha',
    });
    expect(parseSenderPattern('JM@Xmpp.cern.ch')).toEqual({
      kind: 'bare',
      bare: 'jm@xmpp.cern.ch',
    });
    expect(parseSenderPattern('*@Agents.cern.ch')).toEqual({
      kind: 'domain',
      domain: 'agents.cern.ch',
    });
    for (const entry of [
      '*',
      'xmpp.cern.ch',
      '@xmpp.cern.ch',
      'a@',
      '*@x/r',
      'a*@x',
      'a@*',
      'a@b@c',
    ]) {
      expect(parseSenderPattern(entry), entry).toBeUndefined();
    }
    expect(() => new SenderAllowList(['*'])).toThrow(/not a sender JID/);
  });

  it('a bare JID allows every resource of that account, case-insensitively', () => {
    const list = new SenderAllowList(['jmgeneric@xmpp.cern.ch']);
    expect(list.allows('jmgeneric@xmpp.cern.ch/alpha')).toBe(true);
    expect(list.allows('JMGeneric@XMPP.cern.ch/beta')).toBe(true);
    expect(list.allows('jmgeneric@xmpp.cern.ch')).toBe(true);
    expect(list.allows('jmgeneric2@xmpp.cern.ch/alpha')).toBe(false);
    expect(list.allows('jmgeneric@xmpp.cern.ch.evil/alpha')).toBe(false);
    expect(list.allows('xmpp.cern.ch')).toBe(false);
  });

  it('a full JID allows that resource only, compared exactly', () => {
    const list = new SenderAllowList(['jm@xmpp.cern.ch/alpha']);
    expect(list.allows('JM@xmpp.cern.ch/alpha')).toBe(true);
    expect(list.allows('jm@xmpp.cern.ch/Alpha')).toBe(false);
    expect(list.allows('jm@xmpp.cern.ch/alpha2')).toBe(false);
    expect(list.allows('jm@xmpp.cern.ch')).toBe(false);
  });

  it('*@domain allows every account of that domain, not of its subdomains or the server itself', () => {
    const list = new SenderAllowList(['*@agents.cern.ch']);
    expect(list.allows('e48b@agents.cern.ch/x')).toBe(true);
    expect(list.allows('e48b@AGENTS.cern.ch')).toBe(true);
    expect(list.allows('e48b@evil.agents.cern.ch/x')).toBe(false);
    expect(list.allows('agents.cern.ch')).toBe(false);
    expect(list.allows('agents.cern.ch/x')).toBe(false);
  });

  it('an empty list allows nobody', () => {
    const list = new SenderAllowList([]);
    expect(list.isEmpty).toBe(true);
    expect(list.allows('jm@xmpp.cern.ch/alpha')).toBe(false);
    expect(list.allows('')).toBe(false);
  });
});
