/**
 * Limits on what one agent account may ask of the manager, beyond the report:
 *
 * - RequestCooldown (the original manager's `RequestCooldown`, JM_REQUEST_COOLDOWN seconds): an
 *   account served a want_getJob less than the cooldown ago is told `sleep` instead, with the
 *   seconds left (the original sent no duration; agents that read none wait 60 s). Kept in
 *   memory per manager process: managers sharing a queue each keep their own, and a restart
 *   forgets it. The original kept it in Redis; in memory is enough to stop a chatty agent.
 * - BannedAccounts (JM_BANNED_FILE): accounts (`user@domain`) and domains (`*@domain` or
 *   `domain`) refused everything; the file is looked at again at most once a second and re-read
 *   when it changed, so banning and unbanning need no restart.
 *
 * Both key on the account (the bare JID, lower-cased: accountOf), never on the resource, which
 * an agent chooses freely.
 */
import fs from 'node:fs';
import { accountOf } from '@copilot/protocol';
import type { Logger } from '@copilot/base/logger';
import { errorMessage } from '@copilot/base/errors';

export type CooldownAnswer = { serve: true } | { serve: false; secondsLeft: number };

export interface RequestCooldownOptions {
  cooldownMs: number;
  /** Accounts remembered at once (default 100 000); beyond it the oldest are forgotten. */
  maxAccounts?: number;
  now?: () => number;
}

export class RequestCooldown {
  // Kept in the order they were last served, so the expired ones are at the front.
  private readonly served = new Map<string, number>();
  private readonly cooldownMs: number;
  private readonly maxAccounts: number;
  private readonly now: () => number;

  constructor(options: RequestCooldownOptions) {
    this.cooldownMs = options.cooldownMs;
    this.maxAccounts = options.maxAccounts ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.cooldownMs > 0;
  }

  /**
   * Whether a want_getJob from `jid` is served now; serving starts the account's cooldown. A
   * request refused does not extend it (as in the original: only a served request counts).
   */
  check(jid: string): CooldownAnswer {
    if (!this.enabled) return { serve: true };
    const account = accountOf(jid);
    const now = this.now();
    const last = this.served.get(account);
    if (last !== undefined && now - last < this.cooldownMs) {
      return {
        serve: false,
        secondsLeft: Math.max(1, Math.ceil((last + this.cooldownMs - now) / 1000)),
      };
    }
    this.served.delete(account);
    this.served.set(account, now);
    this.forget(now);
    return { serve: true };
  }

  /** Accounts remembered now (tests). */
  get size(): number {
    return this.served.size;
  }

  private forget(now: number): void {
    for (const [account, at] of this.served) {
      if (now - at < this.cooldownMs && this.served.size <= this.maxAccounts) return;
      this.served.delete(account);
    }
  }
}

/** The entries of a ban file: accounts and domains, lower-cased. */
export interface BanEntries {
  accounts: Set<string>;
  domains: Set<string>;
}

/**
 * One entry a line: `user@domain` bans that account, `*@domain` or a bare `domain` bans the
 * domain. `#` starts a comment; blank lines and a resource (`/…`) are ignored.
 */
export function parseBanFile(text: string): BanEntries {
  const entries: BanEntries = { accounts: new Set(), domains: new Set() };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim().toLowerCase();
    if (line === '') continue;
    const bare = accountOf(line);
    if (bare.startsWith('*@')) entries.domains.add(bare.slice(2));
    else if (bare.includes('@')) entries.accounts.add(bare);
    else entries.domains.add(bare);
  }
  return entries;
}

export interface BannedAccountsOptions {
  file: string;
  logger: Logger;
  /** How often at most the file is looked at (default 1 s). */
  checkIntervalMs?: number;
  now?: () => number;
}

export class BannedAccounts {
  private entries: BanEntries = { accounts: new Set(), domains: new Set() };
  private checkedAt = -Infinity;
  private signature = '';
  private checking: Promise<void> | undefined;
  private readonly checkIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: BannedAccountsOptions) {
    this.checkIntervalMs = options.checkIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Whether `jid`'s account or domain is banned, after looking at the file if it is time. */
  async isBanned(jid: string): Promise<boolean> {
    if (this.now() - this.checkedAt >= this.checkIntervalMs) {
      this.checking ??= this.refresh().finally(() => {
        this.checking = undefined;
      });
      await this.checking;
    }
    const account = accountOf(jid);
    const at = account.lastIndexOf('@');
    const domain = at === -1 ? account : account.slice(at + 1);
    return this.entries.accounts.has(account) || this.entries.domains.has(domain);
  }

  /** Looks at the file now and re-reads it when its size, time or inode changed. */
  async refresh(): Promise<void> {
    this.checkedAt = this.now();
    const { file, logger } = this.options;
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch (error) {
      if (this.signature !== 'missing') {
        logger.warn('ban file cannot be read; nobody is banned', {
          file,
          error: errorMessage(error),
        });
      }
      this.signature = 'missing';
      this.entries = { accounts: new Set(), domains: new Set() };
      return;
    }
    const signature = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (signature === this.signature) return;
    try {
      this.entries = parseBanFile(await fs.promises.readFile(file, 'utf8'));
      this.signature = signature;
      logger.info('ban file read', {
        file,
        accounts: this.entries.accounts.size,
        domains: this.entries.domains.size,
      });
    } catch (error) {
      logger.warn('ban file cannot be read; the previous list stays', {
        file,
        error: errorMessage(error),
      });
    }
  }
}
