/**
 * Fair share between owners, after HTCondor's user priority and DIRAC's job shares: the next
 * job goes to the owner with the lowest `usage / share`, where usage is the owner's active jobs
 * now plus its past leases, each lease counting 1 when made and half as much every
 * JM_FAIR_SHARE_HALF_LIFE after. An owner at its JM_OWNER_MAX_RUNNING cap is passed over.
 *
 * The SQLite queue ranks with these functions; the Redis queue ranks in its queued script with
 * the same formula (redis-job-queue.ts), both from counters kept in the store by the lease.
 */
import { valueFor, type OwnerPolicy } from './owner-policy';

/** What the store keeps per owner. */
export interface OwnerStats {
  owner: string;
  queued: number;
  /** Leased, running or uploading now. */
  active: number;
  /** Decayed lease count as of `usageAt`. */
  usage: number;
  usageAt: number;
}

/** `usage` as of `now`: halved every `halfLifeMs` since `usageAt`. */
export function decayedUsage(
  usage: number,
  usageAt: number,
  now: number,
  halfLifeMs: number,
): number {
  if (halfLifeMs <= 0 || usage === 0) return 0;
  return usage * Math.pow(2, -Math.max(0, now - usageAt) / halfLifeMs);
}

/** The usage after one more lease at `now`. */
export function usageAfterLease(
  stats: Pick<OwnerStats, 'usage' | 'usageAt'>,
  now: number,
  halfLifeMs: number,
): number {
  return decayedUsage(stats.usage, stats.usageAt, now, halfLifeMs) + 1;
}

/** An owner's priority value: lower is served first. */
export function effectiveUsage(stats: OwnerStats, policy: OwnerPolicy, now: number): number {
  const usage = stats.active + decayedUsage(stats.usage, stats.usageAt, now, policy.halfLifeMs);
  return usage / valueFor(policy.shares, stats.owner);
}

/** True when the owner may get another lease (below its JM_OWNER_MAX_RUNNING). */
export function belowRunningCap(
  stats: Pick<OwnerStats, 'owner' | 'active'>,
  policy: OwnerPolicy,
): boolean {
  const cap = valueFor(policy.maxRunning, stats.owner);
  return cap <= 0 || stats.active < cap;
}

/**
 * Owners with queued jobs that may get a lease, the next to serve first (lowest usage / share,
 * then by name so every manager ranks alike).
 */
export function rankOwners(
  stats: readonly OwnerStats[],
  policy: OwnerPolicy,
  now: number,
): string[] {
  return stats
    .filter((entry) => entry.queued > 0 && belowRunningCap(entry, policy))
    .map((entry) => ({ owner: entry.owner, value: effectiveUsage(entry, policy, now) }))
    .sort((a, b) =>
      a.value !== b.value ? a.value - b.value : a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0,
    )
    .map((entry) => entry.owner);
}
