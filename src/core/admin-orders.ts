/**
 * A project admin's orders to this agent (the `adminOrder` command, ours): drain (finish the
 * jobs in hand, ask for no more work), pause (jobs freeze, as with the volunteer's Pause) and
 * resume (lift what an admin ordered). ManagerExchange hands over only orders from a configured
 * admin account (ManagerTrust.isAdmin); this part keeps the hold and persists it in the data dir
 * (`admin-order.json`), so that a drained agent stays drained across restarts.
 *
 * Precedence: the volunteer's hold and the admin's hold are separate, and jobs run only when
 * neither holds them. Each side lifts only its own: an admin's resume never lifts the
 * volunteer's pause (the volunteer's choice wins), and the volunteer's Resume does not lift an
 * admin's drain or pause (the project decides whether it hands this computer work).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AdminHold } from '../contract/ui-contract';
import type { AdminOrderName } from '../protocol/commands';
import { accountOf } from '../protocol/jid';
import type { Logger } from '../base/logger';
import { writeFileAtomic } from '../base/write-atomic';
import { errorMessage } from '../base/errors';
import type { ManagerExchange } from './manager-exchange';
import type { ResourcePolicy, RunDecision } from './resource-policy';

export const ADMIN_ORDER_FILE = 'admin-order.json';
/** A reason longer than this is cut: it is shown in one status line. */
export const MAX_REASON_CHARS = 200;

/**
 * The reason as shown to the volunteer: control and format characters become spaces, runs of
 * white space one space, and it is cut to MAX_REASON_CHARS; empty: null.
 */
export function cleanReason(reason: string | undefined): string | null {
  if (reason === undefined) return null;
  const text = reason
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return null;
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}

/**
 * Whether `from` is one of the admin accounts: a bare JID in the setting stands for any of its
 * resources, a full JID for that resource only (the account compared without regard to case).
 */
export function isAdminAddress(from: string, admins: readonly string[]): boolean {
  const slash = from.indexOf('/');
  const resource = slash === -1 ? '' : from.slice(slash + 1);
  return admins.some((admin) => {
    if (accountOf(admin) !== accountOf(from)) return false;
    const at = admin.indexOf('/');
    return at === -1 || admin.slice(at + 1) === resource;
  });
}

function isHold(value: unknown): value is AdminHold {
  if (typeof value !== 'object' || value === null) return false;
  const hold = value as Record<string, unknown>;
  return (
    (hold.order === 'drain' || hold.order === 'pause') &&
    typeof hold.by === 'string' &&
    (hold.reason === null || typeof hold.reason === 'string') &&
    typeof hold.since === 'string'
  );
}

/** What became of an order. */
export type OrderOutcome = 'taken' | 'unchanged';

export class AdminOrders {
  private hold: AdminHold | null = null;
  private readonly file: string;

  constructor(
    private readonly options: {
      dataDir: string;
      logger: Logger;
      /** The hold changed (the status, the policy and the fetcher look again). */
      onChange: () => void;
      now?: () => number;
    },
  ) {
    this.file = path.join(options.dataDir, ADMIN_ORDER_FILE);
    this.hold = this.load();
  }

  /** The admin's hold now; null: none. */
  get current(): AdminHold | null {
    return this.hold;
  }

  /** No admin order stops this agent asking for work. */
  get allowsNewWork(): boolean {
    return this.hold === null;
  }

  /** The admin's pause as a policy decision (ResourcePolicy.addHold); null when not paused. */
  decision(): RunDecision | null {
    if (this.hold?.order !== 'pause') return null;
    return { run: false, reason: 'paused', detail: 'paused by the project admin' };
  }

  /** An order from an admin account (ManagerExchange checked the sender). */
  take(from: string, order: AdminOrderName, reason?: string): OrderOutcome {
    const by = accountOf(from);
    const cleaned = cleanReason(reason);
    const before = this.hold;
    if (order === 'resume') {
      if (before === null) {
        this.options.logger.info('admin resume taken; no admin order was holding this agent', {
          from,
        });
        return 'unchanged';
      }
      this.set(null);
      this.options.logger.info('admin order taken: resume', {
        from,
        lifted: before.order,
        reason: cleaned,
      });
      return 'taken';
    }
    if (before?.order === order && before.reason === cleaned) {
      this.options.logger.info('admin order repeated', { from, order });
      return 'unchanged';
    }
    const now = (this.options.now ?? Date.now)();
    this.set({ order, by, reason: cleaned, since: new Date(now).toISOString() });
    this.options.logger.info(`admin order taken: ${order}`, { from, reason: cleaned });
    return 'taken';
  }

  private set(hold: AdminHold | null): void {
    this.hold = hold;
    try {
      if (hold === null) fs.rmSync(this.file, { force: true });
      else writeFileAtomic(this.file, JSON.stringify(hold) + '\n', 0o600);
    } catch (error) {
      this.options.logger.warn('cannot keep the admin order on disk', {
        file: this.file,
        error: errorMessage(error),
      });
    }
    this.options.onChange();
  }

  private load(): AdminHold | null {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return null;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (isHold(parsed)) {
        const reason = cleanReason(parsed.reason ?? undefined);
        this.options.logger.info('an admin order from before the restart holds', {
          order: parsed.order,
          by: parsed.by,
          reason,
        });
        return { order: parsed.order, by: parsed.by, reason, since: parsed.since };
      }
    } catch {
      // reported below
    }
    this.options.logger.warn('unreadable admin order file ignored', { file: this.file });
    return null;
  }
}

/**
 * AdminOrders wired into the agent: the admin's pause is a hold on the policy (jobs freeze as
 * with the volunteer's Pause), and the orders the trust rule let through are taken.
 */
export function attachAdminOrders(parts: {
  dataDir: string;
  logger: Logger;
  policy: Pick<ResourcePolicy, 'addHold'>;
  exchange: Pick<ManagerExchange, 'onAdminOrder'>;
  onChange: () => void;
}): AdminOrders {
  const orders = new AdminOrders({
    dataDir: parts.dataDir,
    logger: parts.logger,
    onChange: parts.onChange,
  });
  parts.policy.addHold(() => orders.decision());
  parts.exchange.onAdminOrder((from, order) => {
    orders.take(from, order.order, order.reason);
  });
  return orders;
}
