import { describe, expect, it } from 'vitest';
import {
  ClassAdError,
  classAdMatches,
  evaluateClassAd,
  parseClassAdExpression,
  parseJdl,
} from '@copilot/protocol';

const AGENT = parseJdl(`[
  Requirements = ( other.Type == "Job" );
  Platform = "Linux-x86_64";
  Memory = 1010;
  LocalDiskSpace = 4257288;
  Docker = true;
  Type = "machine"
]`);

describe('ClassAd matching', () => {
  it('matches the typical requirement expression', () => {
    expect(classAdMatches('other.Memory >= 512 && other.Platform == "Linux-x86_64"', AGENT)).toBe(
      true,
    );
    expect(classAdMatches('other.Memory >= 2048 && other.Platform == "Linux-x86_64"', AGENT)).toBe(
      false,
    );
  });

  it('supports ||, !, parentheses, booleans and case-insensitive names and strings', () => {
    expect(
      classAdMatches('(other.memory > 4096 || other.DOCKER) && !(other.Type == "job")', AGENT),
    ).toBe(true);
    expect(classAdMatches('other.Platform == "linux-X86_64"', AGENT)).toBe(true);
    expect(classAdMatches('other.Platform != "Linux-i686"', AGENT)).toBe(true);
    expect(classAdMatches('true', AGENT)).toBe(true);
    expect(classAdMatches('other.Memory < 1010 || other.Memory <= 1010', AGENT)).toBe(true);
  });

  it('treats a missing attribute as UNDEFINED, which never matches', () => {
    expect(evaluateClassAd('other.Gpu == "yes"', AGENT)).toBeUndefined();
    expect(classAdMatches('other.Gpu == "yes"', AGENT)).toBe(false);
    expect(classAdMatches('!(other.Gpu == "yes")', AGENT)).toBe(false);
    expect(classAdMatches('other.Gpu == "yes" || other.Memory > 1', AGENT)).toBe(true);
    expect(evaluateClassAd('other.Gpu == "yes" && other.Memory > 99999', AGENT)).toBe(false);
  });

  it('never matches across types', () => {
    expect(classAdMatches('other.Memory == "1010"', AGENT)).toBe(false);
    expect(classAdMatches('other.Platform > 5', AGENT)).toBe(false);
  });

  it('reads bare names from the own ad', () => {
    const job = parseJdl('[ Type = "Job" ]');
    expect(classAdMatches('Type == "Job" && other.Type == "machine"', AGENT, job)).toBe(true);
  });

  it('rejects anything that is not a plain expression with a ClassAdError', () => {
    for (const bad of [
      '',
      'other.Memory >=',
      'other.Memory >= 512 &&',
      '(other.Memory >= 512',
      'process.exit(1)',
      'other.Memory; rm -rf /',
      '"unterminated',
      'other.Memory >= 512 512',
      'constructor.name == "x"' + ' && a.b.c',
      '!'.repeat(100) + 'true',
    ]) {
      expect(() => parseClassAdExpression(bad), bad).toThrow(ClassAdError);
    }
  });
});
