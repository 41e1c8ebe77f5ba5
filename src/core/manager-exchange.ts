/**
 * The agent's side of the conversation with managers: sends commands, collects replies into
 * mailboxes, and follows `redirect` (2.2.4): the inner command goes to the referral, and the
 * referral then counts as the peer of the exchange the redirect came from.
 */
import type { Command, CommandName, CommandOf } from '../protocol/commands';
import { bareJid } from '../protocol/jid';
import type { CopilotSession } from '../transport/copilot-session';
import { silentLogger, type Logger } from '../transport/logger';
import { errorText } from './error-text';

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

/** Replies of one kind, queued as they arrive, from accepted peers only. */
export class Mailbox<N extends CommandName> {
  private readonly queue: Array<Received<N>> = [];
  private waiter: ((value: Received<N> | null) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    readonly name: N,
    /** Full or bare JIDs whose replies count; undefined: anyone's. */
    readonly peers: Set<string> | undefined,
    private readonly match: (command: CommandOf<N>) => boolean,
    private readonly release: () => void,
  ) {}

  accepts(from: string): boolean {
    return !this.peers || this.peers.has(from) || this.peers.has(bareJid(from));
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

  /** The next reply, or null after `timeoutMs`. */
  next(timeoutMs: number): Promise<Received<N> | null> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(null);
      }, timeoutMs);
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
  private readonly unsubscribe: () => void;

  constructor(
    readonly channel: ProtocolChannel,
    private readonly logger: Logger = silentLogger,
    /** Extra handling of commands that are not replies (heartbeat, ...). */
    private readonly other?: (from: string, command: Command) => void,
  ) {
    this.unsubscribe = channel.onCommand((from, command) => this.dispatch(from, command));
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
    if (command.command === 'redirect') {
      this.onRedirect(from, command.referral, command.info);
      return;
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
      if (mailbox.peers && mailbox.accepts(from)) mailbox.peers.add(referral);
    }
    this.send(referral, info).catch((error: unknown) => {
      this.logger.warn('redirected command not acknowledged', {
        referral,
        command: info.command,
        error: errorText(error),
      });
    });
  }
}
