/**
 * Per-owner settings of the queue (fair share and quotas), read from the manager's config and
 * used by both queue backends and the submitting CLIs:
 *
 * | Variable | Meaning | Default |
 * |---|---|---|
 * | JM_OWNER_SHARES | each owner's share of the work, e.g. `alice=3 bob=1`; a bare number is every other owner's | `1` |
 * | JM_OWNER_MAX_QUEUED | queued jobs an owner may have; more are refused at submission (0 = no cap), e.g. `1000 alice=5000` | `0` |
 * | JM_OWNER_MAX_RUNNING | active (leased, running, uploading) jobs an owner may have; at the cap its jobs wait (0 = no cap), e.g. `50 bob=10` | `0` |
 * | JM_FAIR_SHARE_HALF_LIFE | seconds after which a lease counts half in an owner's usage (0 = only active jobs count) | `86400` |
 *
 * Jobs without an owner belong to the owner `""`, which gets the bare number (the default).
 */
import { ConfigError, type ConfigValues } from '@copilot/protocol';

/** One number per owner: `fallback` for every owner not named. */
export interface PerOwner {
  fallback: number;
  owners: ReadonlyMap<string, number>;
}

export interface OwnerPolicy {
  /** JM_OWNER_SHARES: the next job goes to the owner with the lowest usage / share. */
  shares: PerOwner;
  /** JM_OWNER_MAX_QUEUED; 0 = no cap. */
  maxQueued: PerOwner;
  /** JM_OWNER_MAX_RUNNING; 0 = no cap. */
  maxRunning: PerOwner;
  /** JM_FAIR_SHARE_HALF_LIFE in ms; 0 = past leases are forgotten at once. */
  halfLifeMs: number;
}

export const DEFAULT_HALF_LIFE_SECONDS = 86_400;

export const DEFAULT_OWNER_POLICY: OwnerPolicy = {
  shares: { fallback: 1, owners: new Map() },
  maxQueued: { fallback: 0, owners: new Map() },
  maxRunning: { fallback: 0, owners: new Map() },
  halfLifeMs: DEFAULT_HALF_LIFE_SECONDS * 1000,
};

const OWNER_ENTRY = /^([A-Za-z0-9][A-Za-z0-9._@-]{0,127})=(.+)$/;

/**
 * Reads `"[N] owner=N owner=N …"` (white space or commas between entries). `integer` settings
 * take whole numbers >= 0; shares take numbers > 0.
 */
export function parsePerOwner(
  text: string,
  variable: string,
  fallback: number,
  kind: 'share' | 'cap',
): PerOwner {
  const owners = new Map<string, number>();
  let base = fallback;
  const number = (raw: string): number => {
    const value = Number(raw);
    const ok =
      raw.trim() !== '' &&
      (kind === 'share'
        ? Number.isFinite(value) && value > 0
        : Number.isSafeInteger(value) && value >= 0);
    if (!ok) {
      throw new ConfigError(
        `${variable}: ${JSON.stringify(raw)} is not ${kind === 'share' ? 'a number > 0' : 'a whole number >= 0'}`,
        variable,
      );
    }
    return value;
  };
  for (const entry of text.split(/[\s,]+/).filter((part) => part !== '')) {
    const match = OWNER_ENTRY.exec(entry);
    if (match?.[1] !== undefined && match[2] !== undefined) owners.set(match[1], number(match[2]));
    else if (!entry.includes('=')) base = number(entry);
    else
      throw new ConfigError(`${variable}: ${JSON.stringify(entry)} is not owner=number`, variable);
  }
  return { fallback: base, owners };
}

/** The owner's number, or the fallback. */
export function valueFor(values: PerOwner, owner: string): number {
  return values.owners.get(owner) ?? values.fallback;
}

/** The canonical text of a PerOwner (`fallback name=value …`), as the Redis scripts read it. */
export function formatPerOwner(values: PerOwner): string {
  return [
    String(values.fallback),
    ...[...values.owners].map(([name, value]) => `${name}=${value}`),
  ].join(' ');
}

/** JM_OWNER_SHARES, JM_OWNER_MAX_QUEUED, JM_OWNER_MAX_RUNNING and JM_FAIR_SHARE_HALF_LIFE. */
export function ownerPolicyFromValues(values: ConfigValues): OwnerPolicy {
  return {
    shares: parsePerOwner(values.string('JM_OWNER_SHARES', '1'), 'JM_OWNER_SHARES', 1, 'share'),
    maxQueued: parsePerOwner(
      values.string('JM_OWNER_MAX_QUEUED', '0'),
      'JM_OWNER_MAX_QUEUED',
      0,
      'cap',
    ),
    maxRunning: parsePerOwner(
      values.string('JM_OWNER_MAX_RUNNING', '0'),
      'JM_OWNER_MAX_RUNNING',
      0,
      'cap',
    ),
    halfLifeMs: Math.round(
      values.number('JM_FAIR_SHARE_HALF_LIFE', DEFAULT_HALF_LIFE_SECONDS, { min: 0 }) * 1000,
    ),
  };
}
