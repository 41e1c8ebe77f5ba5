/**
 * The agent's side of the conversation with managers: sends commands, collects replies into
 * mailboxes, and follows `redirect` (2.2.4): the inner command goes to the referral, and the
 * referral then counts as the peer of the exchange the redirect came from.
 *
 * The trust rule is applied here, where commands enter: work and storage orders are taken only
 * from the project's managers (ManagerTrust), and from a storage component only while a
 * manager's redirect to it is being answered or for the job a manager sent us there about.
 * Admin orders (drain, pause, resume) are taken only from the project's admin accounts and go
 * to the `onAdminOrder` listener (AdminOrders).
 */
import type { AdminOrder, Command, CommandName, CommandOf } from '../protocol/commands';
import { accountOf, bareJid } from '../protocol/jid';
import type { CopilotSession } from '../transport/copilot-session';
import { silentLogger, type Logger } from '../base/logger';
import type { ManagerTrust } from './manager-trust';
import { errorMessage } from '../base/errors';

/** What the agent needs of an XMPP session; CopilotSession in production, a fake in tests. */
export interface ProtocolChannel {
  /** Resolves when acknowledged; rejects when nobody acknowledged. */
  send(to: string, command: Command): Promise<void>;
  /** Fire and forget (noack), e.g. monitor events and heartbeat answers. */
  notify(to: string, command: Command): void;
  onCommand(handler: (from: string, command: Command) => void): () => void;
  readonly online: boolean;
}

/** Adapts a CopilotSession that may be replaced (settings change) to a ProtocolChannel. */
export class SessionChannel implements ProtocolChannel {
  private session: CopilotSession | undefined;
  private readonly handlers = new Set<(from: string, command: Command) => void>();

  attach(session: CopilotSession | undefined): void {
    this.session = session;
    session?.onCommand((message) => {
      if (this.session !== session) return;
      for (const handler of this.handlers) handler(message.from, message.command);
    });
  }

  get online(): boolean {
    return this.session?.isOnline ?? false;
  }

  async send(to: string, command: Command): Promise<void> {
    if (!this.session) throw new Error('not connected to the XMPP server');
    await this.session.send(to, command);
  }

  notify(to: string, command: Command): void {
    if (!this.session?.isOnline) return;
    this.session.send(to, command, { noack: true }).catch(() => undefined);
  }

  onCommand(handler: (from: string, command: Command) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
}

export interface Received<N extends CommandName> {
  from: string;
  command: CommandOf<N>;
}

/** Commands an agent sends, and so the only ones it will forward for a redirect. */
const FORWARDABLE: ReadonlySet<string> = new Set([
  'want_getJob',
  'getJob',
  'want_getJobOutputDir',
  'getJobOutputDir',
  'jobDone',
]);

/** Commands only one of the project's managers may send: work orders and their control. */
const MANAGER_ONLY: ReadonlySet<string> = new Set(['have_getJob', 'runJob', 'redirect', 'sleep']);
/** Orders only one of the project's admin accounts may send. */
const ADMIN_ONLY: ReadonlySet<string> = new Set(['adminOrder']);
/** Storage orders: from a manager, or from the storage component a manager sent us to. */
const STORAGE_ORDERS: ReadonlySet<string> = new Set([
  'have_getJobOutputDir',
  'storeJobOutputDir',
  'jobRefused',
]);

/** The original manager's RequestCooldown, when its `sleep` names no duration. */
const DEFAULT_SLEEP_SECONDS = 60;
const MAX_SLEEP_SECONDS = 24 * 3600;

export type RefusalListener = (code: string, reason: string, from: string) => void;
/** An admin order from one of the project's admin accounts. */
export type AdminOrderListener = (from: string, order: AdminOrder) => void;

/** Replies of one kind, queued as they arrive, from accepted peers only. */
export class Mailbox<N extends CommandName> {
  private readonly queue: Array<Received<N>> = [];
  private waiter: ((value: Received<N> | null) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Components a manager redirected this exchange to (full JIDs as given in the redirect). */
  private readonly referrals = new Set<string>();
  closed = false;

  constructor(
    readonly name: N,
    /** Full or bare JIDs whose replies count; undefined: anyone's. */
    readonly peers: Set<string> | undefined,
    private readonly match: (command: CommandOf<N>) => boolean,
    private readonly release: () => void,
  ) {}

  accepts(from: string): boolean {
    return !this.peers || this.listed(this.peers, from) || this.hasReferral(from);
  }

  hasReferral(from: string): boolean {
    return !this.closed && this.listed(this.referrals, from);
  }

  addReferral(referral: string): void {
    this.referrals.add(referral);
  }

  private listed(jids: ReadonlySet<string>, from: string): boolean {
    return jids.has(from) || jids.has(bareJid(from));
  }

  offer(from: string, command: Command): boolean {
    if (this.closed || command.command !== this.name || !this.accepts(from)) return false;
    const typed = command as CommandOf<N>;
    if (!this.match(typed)) return false;
    const received = { from, command: typed };
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      clearTimeout(this.timer);
      waiter(received);
    } else this.queue.push(received);
    return true;
  }

  /** The next reply, or null after `timeoutMs` or once `signal` is aborted. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<Received<N> | null> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed || signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onAbort = (): void => giveUp();
      const giveUp = (): void => {
        clearTimeout(this.timer);
        this.waiter = undefined;
        signal?.removeEventListener('abort', onAbort);
        resolve(null);
      };
      this.waiter = (value) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      this.timer = setTimeout(giveUp, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(null);
    this.release();
  }
}

export class ManagerExchange {
  private readonly mailboxes = new Set<Mailbox<CommandName>>();
  /** JIDs we have sent to: only they may redirect us. */
  private readonly contacted = new Set<string>();
  private readonly refusalListeners = new Map<string, Set<RefusalListener>>();
  private readonly adminOrderListeners = new Set<AdminOrderListener>();
  /**
   * Managers not to be asked for work before the time given: accounts (lower case) that told us
   * to `sleep`, and full JIDs whose requireFile this host lacks.
   */
  readonly cooldowns = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(
    readonly channel: ProtocolChannel,
    readonly trust: ManagerTrust,
    private readonly logger: Logger = silentLogger,
    /** Extra handling of commands that are not replies (heartbeat, ...). */
    private readonly other?: (from: string, command: Command) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = channel.onCommand((from, command) => this.dispatch(from, command));
  }

  /** Hears a manager's jobRefused for this job; the returned function stops listening. */
  onRefusal(jobId: string, listener: RefusalListener): () => void {
    const listeners = this.refusalListeners.get(jobId) ?? new Set<RefusalListener>();
    listeners.add(listener);
    this.refusalListeners.set(jobId, listeners);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.refusalListeners.delete(jobId);
    };
  }

  /** Hears admin orders that passed the trust rule; the returned function stops listening. */
  onAdminOrder(listener: AdminOrderListener): () => void {
    this.adminOrderListeners.add(listener);
    return () => this.adminOrderListeners.delete(listener);
  }

  dispose(): void {
    this.unsubscribe();
    for (const mailbox of this.mailboxes) mailbox.close();
  }

  mailbox<N extends CommandName>(
    name: N,
    options: { peers?: readonly string[]; match?: (command: CommandOf<N>) => boolean } = {},
  ): Mailbox<N> {
    const mailbox: Mailbox<N> = new Mailbox(
      name,
      options.peers ? new Set(options.peers) : undefined,
      options.match ?? (() => true),
      () => this.mailboxes.delete(mailbox as unknown as Mailbox<CommandName>),
    );
    this.mailboxes.add(mailbox as unknown as Mailbox<CommandName>);
    return mailbox;
  }

  async send(to: string, command: Command): Promise<void> {
    this.contacted.add(to);
    this.contacted.add(bareJid(to));
    await this.channel.send(to, command);
  }

  private dispatch(from: string, command: Command): void {
    if (!this.trusted(from, command)) {
      this.trust.drop(from, command.command);
      return;
    }
    switch (command.command) {
      case 'redirect':
        this.onRedirect(from, command.referral, command.info);
        return;
      case 'jobRefused':
        this.onRefused(from, command.jobID, command.code, command.reason);
        return;
      case 'sleep':
        this.onSleep(from, command.seconds);
        return;
      case 'adminOrder':
        for (const listener of [...this.adminOrderListeners]) listener(from, command);
        if (this.adminOrderListeners.size === 0) {
          this.logger.warn('admin order with nobody to take it', { from, order: command.order });
        }
        return;
      default:
    }
    let taken = false;
    for (const mailbox of this.mailboxes) {
      if (mailbox.offer(from, command)) {
        taken = true;
        break;
      }
    }
    if (!taken) {
      if (this.other) this.other(from, command);
      else this.logger.debug('unexpected command ignored', { command: command.command, from });
    }
  }

  private trusted(from: string, command: Command): boolean {
    if (MANAGER_ONLY.has(command.command)) return this.trust.isManager(from);
    if (ADMIN_ONLY.has(command.command)) return this.trust.isAdmin(from);
    if (!STORAGE_ORDERS.has(command.command)) return true;
    const jobId = 'jobID' in command ? command.jobID : undefined;
    if (this.trust.accepts(from, jobId)) return true;
    for (const mailbox of this.mailboxes) if (mailbox.hasReferral(from)) return true;
    return false;
  }

  private onRefused(from: string, jobId: string, code: string, reason: string): void {
    const listeners = this.refusalListeners.get(jobId);
    if (!listeners) {
      this.logger.debug('jobRefused for a job not in hand', { from, jobId, code });
      return;
    }
    for (const listener of [...listeners]) listener(code, reason, from);
  }

  private onSleep(from: string, seconds: number | undefined): void {
    const wanted = seconds !== undefined && seconds > 0 ? seconds : DEFAULT_SLEEP_SECONDS;
    const wait = Math.min(wanted, MAX_SLEEP_SECONDS);
    this.cooldowns.set(accountOf(from), this.now() + wait * 1000);
    this.logger.info('a manager asked us to wait before asking it again', { from, seconds: wait });
  }

  private onRedirect(from: string, referral: string, info: Command): void {
    if (!this.contacted.has(from) && !this.contacted.has(bareJid(from))) {
      this.logger.warn('redirect from a JID we never contacted ignored', { from });
      return;
    }
    if (!FORWARDABLE.has(info.command)) {
      this.logger.warn('redirect of a command an agent does not send ignored', {
        from,
        command: info.command,
      });
      return;
    }
    if (!/^[^@/\s]+@[^@/\s]+(\/\S+)?$/.test(referral) && !/^[^@/\s]+(\/\S+)?$/.test(referral)) {
      this.logger.warn('redirect with an invalid referral ignored', { from, referral });
      return;
    }
    this.logger.info('redirected', { from, referral, command: info.command });
    for (const mailbox of this.mailboxes) {
      if (mailbox.peers && mailbox.accepts(from)) mailbox.addReferral(referral);
    }
    const jobId = 'jobID' in info ? info.jobID : undefined;
    if (jobId !== undefined) this.trust.trustForJob(referral, jobId);
    this.send(referral, info).catch((error: unknown) => {
      this.logger.warn('redirected command not acknowledged', {
        referral,
        command: info.command,
        error: errorMessage(error),
      });
    });
  }
}
