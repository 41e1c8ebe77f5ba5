import { describe, expect, it } from 'vitest';
import {
  formatEnvironment,
  httpFileUrl,
  isSafeFileName,
  isValidJobId,
  parseEnvironment,
  parseStorageAddress,
  splitList,
} from '@copilot/protocol';

describe('job fields', () => {
  it('accepts ordinary job ids and rejects hostile ones', () => {
    for (const id of ['30801741', 'job-1', 'a1b2c3d4-e5f6.7_8'])
      expect(isValidJobId(id)).toBe(true);
    for (const id of [
      '',
      '..',
      '../etc',
      'a/b',
      'a\0b',
      '-rf',
      '.hidden',
      'a;rm',
      'a b',
      '$(x)',
      'x'.repeat(200),
    ]) {
      expect(isValidJobId(id)).toBe(false);
    }
  });

  it('accepts plain file names only', () => {
    expect(isSafeFileName('calculator.sh')).toBe(true);
    for (const name of ['', '.', '..', 'a/b', '/etc/passwd', 'a\0', '-x', '`id`', 'a b', 'x..y']) {
      expect(isSafeFileName(name)).toBe(false);
    }
  });

  it('parses and formats environment pairs', () => {
    expect(parseEnvironment('A=1  B=two=2')).toEqual({ A: '1', B: 'two=2' });
    expect(formatEnvironment({ A: '1', B: 'x' })).toBe('A=1 B=x');
    expect(Object.entries(parseEnvironment('__proto__=x constructor=y'))).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
    expect(() => parseEnvironment('1A=1')).toThrow(/invalid environment/);
    expect(() => parseEnvironment('NOEQUALS')).toThrow(/invalid environment/);
    expect(() => formatEnvironment({ A: 'has space' })).toThrow(/white space/);
    expect(splitList('  a  b\nc ')).toEqual(['a', 'b', 'c']);
  });

  it('understands HTTP and Chirp storage addresses', () => {
    expect(parseStorageAddress('http://127.0.0.1:8088/', '/storage/input/j/t')).toEqual({
      kind: 'http',
      baseUrl: 'http://127.0.0.1:8088',
      directory: '/storage/input/j/t',
    });
    expect(parseStorageAddress('chirp.example.org;9094', '/out')).toEqual({
      kind: 'chirp',
      host: 'chirp.example.org',
      port: 9094,
      directory: '/out',
    });
    expect(() => parseStorageAddress('ftp://x', '/a')).toThrow(/unrecognised/);
    const address = { baseUrl: 'http://h:1', directory: '/storage/input/j/t/' };
    expect(httpFileUrl(address, 'calculator.sh')).toBe(
      'http://h:1/storage/input/j/t/calculator.sh',
    );
    expect(() => httpFileUrl(address, '../secret')).toThrow(/unsafe/);
  });
});
