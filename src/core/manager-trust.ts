/**
 * The agent's trust rule, applied where stanzas enter (ManagerExchange): work and storage orders
 * come only from the project's managers (the configured addresses; a bare JID stands for all of
 * its resources), and from a storage manager only for the job a trusted manager redirected us
 * about; admin orders (drain, pause, resume) only from the project's admin accounts
 * (adminAccounts; a bare JID stands for all of its resources, a full JID for that one). Everything
 * else is dropped, counted, and logged at a bounded rate.
 */
import { accountOf } from '../protocol/jid';
import type { Logger } from '../base/logger';
import { ThrottledLog } from '../base/throttled-log';
import { isAdminAddress } from './admin-orders';

/** The configured manager addresses: one setting, JIDs separated by white space or commas. */
export function managerAddresses(setting: string): string[] {
  return setting.split(/[\s,]+/).filter((address) => address !== '');
}

export class ManagerTrust {
  private readonly referrals = new Map<string, Set<string>>();
  private readonly log: ThrottledLog;
  private dropped = 0;
  private refusedOrders = 0;

  constructor(
    /** The current manager addresses (they change with the settings). */
    private readonly addresses: () => readonly string[],
    logger: Logger,
    now: () => number = Date.now,
    /** The current admin accounts (adminAccounts); none: every admin order is refused. */
    private readonly admins: () => readonly string[] = () => [],
  ) {
    this.log = new ThrottledLog(logger, { now });
  }

  /** The configured manager addresses (jobManagerAddress), as they are now. */
  get managers(): readonly string[] {
    return this.addresses();
  }

  /** The sender is one of the project's managers (any resource of a configured account). */
  isManager(from: string): boolean {
    const account = accountOf(from);
    return this.addresses().some((address) => accountOf(address) === account);
  }

  /** The sender is one of the project's admin accounts. */
  isAdmin(from: string): boolean {
    return isAdminAddress(from, this.admins());
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

  /** Admin orders refused because their sender is not an admin account (also in droppedCount). */
  get refusedAdminOrderCount(): number {
    return this.refusedOrders;
  }

  /** Counts a command from an untrusted sender, and logs it at most once a minute per sender. */
  drop(from: string, command: string): void {
    this.dropped += 1;
    if (command === 'adminOrder') {
      this.refusedOrders += 1;
      this.log.warn(
        `admin:${accountOf(from)}`,
        'admin order from a JID that is not one of our admins refused',
        {
          from,
          command,
          refusedSoFar: this.refusedOrders,
        },
      );
      return;
    }
    this.log.warn(accountOf(from), 'command from a JID that is not one of our managers dropped', {
      from,
      command,
      droppedSoFar: this.dropped,
    });
  }
}
