import { describe, expect, it } from 'vitest';
import {
  decayedUsage,
  rankOwners,
  usageAfterLease,
  type OwnerStats,
} from '@manager/job-manager/fair-share';
import { parsePerOwner, type OwnerPolicy } from '@manager/job-manager/owner-policy';

const HOUR = 3_600_000;

function policy(shares: string, maxRunning = '0'): OwnerPolicy {
  return {
    shares: parsePerOwner(shares, 'JM_OWNER_SHARES', 1, 'share'),
    maxQueued: parsePerOwner('0', 'JM_OWNER_MAX_QUEUED', 0, 'cap'),
    maxRunning: parsePerOwner(maxRunning, 'JM_OWNER_MAX_RUNNING', 0, 'cap'),
    halfLifeMs: HOUR,
  };
}

function stats(owner: string, active: number, usage = 0, usageAt = 0, queued = 5): OwnerStats {
  return { owner, queued, active, usage, usageAt };
}

describe('fair share', () => {
  it('halves usage every half-life; half-life 0 forgets it', () => {
    expect(decayedUsage(8, 0, HOUR, HOUR)).toBeCloseTo(4);
    expect(decayedUsage(8, 0, 3 * HOUR, HOUR)).toBeCloseTo(1);
    expect(decayedUsage(8, 10, 0, HOUR)).toBe(8);
    expect(decayedUsage(8, 0, HOUR, 0)).toBe(0);
    expect(usageAfterLease({ usage: 2, usageAt: 0 }, HOUR, HOUR)).toBeCloseTo(2);
  });

  it('serves the lowest usage / share first, ties by name', () => {
    const now = 0;
    expect(rankOwners([stats('bob', 1), stats('alice', 2)], policy('alice=3'), now)).toEqual([
      'alice',
      'bob',
    ]);
    expect(rankOwners([stats('bob', 1), stats('alice', 4)], policy('alice=3'), now)).toEqual([
      'bob',
      'alice',
    ]);
    expect(rankOwners([stats('b', 0), stats('a', 0)], policy('1'), now)).toEqual(['a', 'b']);
    // Past leases count, decayed: 8 leases two half-lives ago weigh 2.
    expect(rankOwners([stats('old', 0, 8, 0), stats('new', 3)], policy('1'), 2 * HOUR)).toEqual([
      'old',
      'new',
    ]);
  });

  it('leaves out owners with nothing queued and owners at their running cap', () => {
    const ranked = rankOwners(
      [stats('idle', 0, 0, 0, 0), stats('full', 2), stats('busy', 9)],
      policy('1', '0 full=2'),
      0,
    );
    expect(ranked).toEqual(['busy']);
  });
});
