/**
 * The agent's trust rule, applied where stanzas enter (ManagerExchange): work and storage orders
 * come only from the project's managers (the configured addresses; a bare JID stands for all of
 * its resources), and from a storage manager only for the job a trusted manager redirected us
 * about. Everything else is dropped, counted, and logged at a bounded rate.
 */
import { accountOf } from '../protocol/jid';
import type { Logger } from '../transport/logger';

/** The configured manager addresses: one setting, JIDs separated by white space or commas. */
export function managerAddresses(setting: string): string[] {
  return setting.split(/[\s,]+/).filter((address) => address !== '');
}

/** At most one log line per sender in this window. */
const LOG_WINDOW_MS = 60_000;
/** Senders remembered for the log window; beyond it the memory starts over. */
const MAX_REMEMBERED_SENDERS = 1_000;

export class ManagerTrust {
  private readonly referrals = new Map<string, Set<string>>();
  private readonly lastLogged = new Map<string, number>();
  private dropped = 0;

  constructor(
    /** The current manager addresses (they change with the settings). */
    private readonly addresses: () => readonly string[],
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The sender is one of the project's managers (any resource of a configured account). */
  isManager(from: string): boolean {
    const account = accountOf(from);
    return this.addresses().some((address) => accountOf(address) === account);
  }

  /** A manager, or the storage component a manager sent us to about this job. */
  accepts(from: string, jobId?: string): boolean {
    if (this.isManager(from)) return true;
    return jobId !== undefined && (this.referrals.get(accountOf(from))?.has(jobId) ?? false);
  }

  /** `peer` takes part in this job's exchange on a manager's word (redirect, storeJobOutputDir). */
  trustForJob(peer: string, jobId: string): void {
    const account = accountOf(peer);
    const jobs = this.referrals.get(account) ?? new Set<string>();
    jobs.add(jobId);
    this.referrals.set(account, jobs);
  }

  forgetJob(jobId: string): void {
    for (const [account, jobs] of this.referrals) {
      jobs.delete(jobId);
      if (jobs.size === 0) this.referrals.delete(account);
    }
  }

  get droppedCount(): number {
    return this.dropped;
  }

  /** Counts a command from an untrusted sender, and logs it unless this sender was logged lately. */
  drop(from: string, command: string): void {
    this.dropped += 1;
    const account = accountOf(from);
    const now = this.now();
    const last = this.lastLogged.get(account);
    if (last !== undefined && now - last < LOG_WINDOW_MS) return;
    if (this.lastLogged.size >= MAX_REMEMBERED_SENDERS) this.lastLogged.clear();
    this.lastLogged.set(account, now);
    this.logger.warn('command from a JID that is not one of our managers dropped', {
      from,
      command,
      droppedSoFar: this.dropped,
    });
  }
}
