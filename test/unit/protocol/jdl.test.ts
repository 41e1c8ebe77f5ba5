import { describe, expect, it } from 'vitest';
import {
  JdlParseError,
  jdlExpression,
  jdlGet,
  jdlNumber,
  jdlString,
  parseJdl,
  serializeJdl,
} from '@copilot/protocol';

const LISTING_2_4 = `[
  Requirements = ( other.Type == "Job" );
  Version = "0";
  Platform = "Linux-i686";
  LocalDiskSpace = 4257288;
  WNHost = "cvmappi24.cern.ch";
  Memory = 1010;
  Type = "machine";
  Uname = "2.6.26.8-0.1.smp.gcc3.4.x86.i686";
  FreeMemory = 683;
  Swap = 127;
  FreeSwap = 127
]`;

describe('JDL', () => {
  it('parses listing 2.4', () => {
    const record = parseJdl(LISTING_2_4);
    expect(record.map(([name]) => name)).toEqual([
      'Requirements',
      'Version',
      'Platform',
      'LocalDiskSpace',
      'WNHost',
      'Memory',
      'Type',
      'Uname',
      'FreeMemory',
      'Swap',
      'FreeSwap',
    ]);
    expect(jdlGet(record, 'requirements')).toEqual(jdlExpression('( other.Type == "Job" )'));
    expect(jdlGet(record, 'Version')).toEqual(jdlString('0'));
    expect(jdlGet(record, 'Memory')).toEqual(jdlNumber(1010));
    expect(jdlGet(record, 'WNHost')).toEqual(jdlString('cvmappi24.cern.ch'));
  });

  it('serializes in the listing layout and round-trips', () => {
    const record = parseJdl(LISTING_2_4);
    const text = serializeJdl(record);
    expect(text).toBe(LISTING_2_4);
    expect(parseJdl(text)).toEqual(record);
  });

  it('escapes quotes, backslashes and semicolons inside strings', () => {
    const record = [['Name', jdlString('a "quoted"; back\\slash\nline')] as const];
    expect(parseJdl(serializeJdl(record))).toEqual(record);
  });

  it('rejects malformed JDL with a clear error', () => {
    expect(() => parseJdl('Memory = 1')).toThrow(JdlParseError);
    expect(() => parseJdl('[ Memory ]')).toThrow(/without '='/);
    expect(() => parseJdl('[ Memory = "open ]')).toThrow(/unterminated/);
    expect(() => parseJdl('[ A = (1 ]')).toThrow(/unbalanced/);
    expect(() => parseJdl('[ 9bad = 1 ]')).toThrow(/invalid JDL attribute name/);
    expect(() => serializeJdl([['bad name', jdlNumber(1)]])).toThrow(JdlParseError);
  });
});
