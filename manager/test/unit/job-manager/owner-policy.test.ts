import { describe, expect, it } from 'vitest';
import { ConfigValues } from '@copilot/protocol';
import {
  formatPerOwner,
  ownerPolicyFromValues,
  parsePerOwner,
  valueFor,
} from '@manager/job-manager/owner-policy';

describe('per-owner settings', () => {
  it('reads a bare default and owner=value entries, separated by spaces or commas', () => {
    const shares = parsePerOwner('2 alice=3, bob=0.5', 'JM_OWNER_SHARES', 1, 'share');
    expect(valueFor(shares, 'alice')).toBe(3);
    expect(valueFor(shares, 'bob')).toBe(0.5);
    expect(valueFor(shares, 'carol')).toBe(2);
    expect(valueFor(shares, '')).toBe(2);
    expect(formatPerOwner(shares)).toBe('2 alice=3 bob=0.5');
    expect(valueFor(parsePerOwner('', 'X', 7, 'cap'), 'anyone')).toBe(7);
  });

  it('refuses what is not a number of the kind, naming the variable', () => {
    expect(() => parsePerOwner('alice=0', 'JM_OWNER_SHARES', 1, 'share')).toThrow(
      /JM_OWNER_SHARES: "0" is not a number > 0/,
    );
    expect(() => parsePerOwner('alice=1.5', 'JM_OWNER_MAX_RUNNING', 0, 'cap')).toThrow(
      /whole number/,
    );
    expect(() => parsePerOwner('-1', 'JM_OWNER_MAX_QUEUED', 0, 'cap')).toThrow(/whole number/);
    expect(() => parsePerOwner('a b=1=2 =3', 'JM_OWNER_SHARES', 1, 'share')).toThrow(
      /JM_OWNER_SHARES/,
    );
  });

  it('builds the policy from the config variables, with defaults', () => {
    const policy = ownerPolicyFromValues(
      ConfigValues.from({
        file: new Map([
          ['JM_OWNER_SHARES', 'alice=3 bob=1'],
          ['JM_OWNER_MAX_RUNNING', '50 bob=10'],
          ['JM_FAIR_SHARE_HALF_LIFE', '60'],
        ]),
      }),
    );
    expect(valueFor(policy.shares, 'alice')).toBe(3);
    expect(valueFor(policy.maxRunning, 'bob')).toBe(10);
    expect(valueFor(policy.maxRunning, 'alice')).toBe(50);
    expect(valueFor(policy.maxQueued, 'alice')).toBe(0);
    expect(policy.halfLifeMs).toBe(60_000);
    expect(ownerPolicyFromValues(ConfigValues.from({})).halfLifeMs).toBe(86_400_000);
  });
});
