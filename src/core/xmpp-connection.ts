/**
 * The agent's XMPP connection: one CopilotSession built from the volunteer's settings (secure
 * mode, TLS), the Heartbeat responder on it, and reconnection with back-off when the server
 * cannot be reached (a minute at first when it refused the login: the volunteer must act).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AgentSettings, ConnectionState } from '../contract/ui-contract';
import { attachHeartbeatResponder } from '../heartbeat/heartbeat-responder';
import type { StatusProbes } from '../heartbeat/status-probes';
import { backoffDelay } from '../base/backoff';
import {
  CopilotSession,
  XmppAuthError,
  type CopilotSessionOptions,
} from '../transport/copilot-session';
import type { Logger } from '../base/logger';
import { AgentSecureLayer } from '../transport/secure-layer';
import { xmppServiceUrl } from '../transport/xmpp-service';
import type { SessionChannel } from './manager-exchange';
import { errorMessage } from '../base/errors';

/** What the rest of the agent sees of its connection. */
export interface AgentConnection {
  readonly state: ConnectionState;
  readonly message: string;
  /** Our full JID while connected, else null. */
  readonly jid: string | null;
  readonly session: CopilotSession | undefined;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** After a settings change that touches the connection. */
  reconnect(): Promise<void>;
}

export function isConfigured(settings: AgentSettings): boolean {
  return (
    settings.jobManagerAddress !== '' &&
    settings.xmppServer !== '' &&
    settings.xmppDomain !== '' &&
    settings.xmppUsername !== '' &&
    settings.xmppPassword !== ''
  );
}

/** Secure mode's message layer and the TLS options, from the volunteer's settings. */
export function sessionSecurity(
  settings: AgentSettings,
): Pick<CopilotSessionOptions, 'layers' | 'tls'> {
  const security: Pick<CopilotSessionOptions, 'layers' | 'tls'> = {};
  if (settings.secureMode) {
    let managerPublicKey: KeyObject;
    try {
      managerPublicKey = createPublicKey(settings.jobManagerPublicKey);
    } catch (error) {
      const reason = errorMessage(error);
      throw new Error(`secure mode: the job manager's public key cannot be read (${reason})`);
    }
    const localJid = `${settings.xmppUsername}@${settings.xmppDomain}`;
    security.layers = [new AgentSecureLayer({ localJid, managerPublicKey })];
  }
  if (settings.requireTls || settings.xmppCaCertificate !== '') {
    security.tls = { requireTls: settings.requireTls };
    if (settings.xmppCaCertificate !== '') security.tls.ca = settings.xmppCaCertificate;
  }
  return security;
}

/** A channel given by a test: always online, nothing to connect. */
export function fixedConnection(jid: string): AgentConnection {
  return {
    state: 'online',
    message: '',
    jid,
    session: undefined,
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    reconnect: () => Promise.resolve(),
  };
}

export interface XmppConnectionOptions {
  settings: () => AgentSettings;
  channel: SessionChannel;
  resource: string;
  logger: Logger;
  /** Full service URL; default from settings.xmppServer. */
  service?: string;
  sessionOptions?: Partial<CopilotSessionOptions>;
  /** The agent is stopped: no (re)connecting. */
  stopped: () => boolean;
  /** Something the status shows changed. */
  onChange: () => void;
  onOnline: () => void;
  /** What the Heartbeat responder reads (with the agent's own `agentState`); default the host's. */
  heartbeatProbes?: StatusProbes;
}

export class XmppConnection implements AgentConnection {
  state: ConnectionState = 'not-configured';
  message = '';
  session: CopilotSession | undefined;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: XmppConnectionOptions) {}

  get jid(): string | null {
    return this.session?.jid || null;
  }

  async connect(): Promise<void> {
    const { options } = this;
    if (options.stopped()) return;
    const settings = options.settings();
    if (!isConfigured(settings)) {
      this.state = 'not-configured';
      this.message = 'Set the Jabber server, domain, ID, password and job manager address';
      return;
    }
    let security: Pick<CopilotSessionOptions, 'layers' | 'tls'>;
    try {
      security = sessionSecurity(settings);
    } catch (error) {
      // A key that cannot be read will not get better by retrying: wait for new settings.
      this.setState('offline', errorMessage(error));
      options.logger.error('cannot connect', { error: this.message });
      return;
    }
    const current = this.newSession(settings, security);
    this.setState('connecting', `Connecting to ${settings.xmppServer}`);
    try {
      await current.start();
      this.attempt = 0;
    } catch (error) {
      if (this.session === current) this.retryLater(current, error);
    }
  }

  async disconnect(): Promise<void> {
    clearTimeout(this.retryTimer);
    const current = this.session;
    this.session = undefined;
    this.options.channel.attach(undefined);
    if (current) await current.stop();
  }

  async reconnect(): Promise<void> {
    await this.disconnect();
    this.attempt = 0;
    void this.connect();
  }

  private setState(state: ConnectionState, message: string): void {
    this.state = state;
    this.message = message;
    this.options.onChange();
  }

  private newSession(
    settings: AgentSettings,
    security: Pick<CopilotSessionOptions, 'layers' | 'tls'>,
  ): CopilotSession {
    const { options } = this;
    const current = new CopilotSession({
      service: options.service ?? xmppServiceUrl(settings.xmppServer),
      domain: settings.xmppDomain,
      username: settings.xmppUsername,
      password: settings.xmppPassword,
      resource: options.resource,
      ...security,
      logger: options.logger.child('xmpp'),
      ...options.sessionOptions,
    });
    this.session = current;
    options.channel.attach(current);
    if (settings.heartbeatChatServer && settings.heartbeatChatRoom) {
      attachHeartbeatResponder(current, {
        chatServer: settings.heartbeatChatServer,
        chatRoom: settings.heartbeatChatRoom,
        nick: options.resource,
        logger: options.logger.child('heartbeat'),
        ...(options.heartbeatProbes ? { probes: options.heartbeatProbes } : {}),
      });
    }
    current.events.on('online', (jid) => {
      if (this.session !== current) return;
      this.setState('online', `Connected as ${jid}`);
      options.onOnline();
    });
    current.events.on('offline', () => {
      if (this.session === current) this.setState('offline', 'Connection lost; reconnecting');
    });
    current.events.on('error', () => undefined);
    return current;
  }

  private retryLater(current: CopilotSession, error: unknown): void {
    const refused = error instanceof XmppAuthError;
    const delay = backoffDelay(this.attempt, {
      initialMs: refused ? 60_000 : 2_000,
      maxMs: 300_000,
      jitter: 0.3,
    });
    this.attempt += 1;
    const text = errorMessage(error);
    this.options.logger.warn('cannot connect to the XMPP server; retrying', {
      error: text,
      inMs: delay,
    });
    this.setState(refused ? 'auth-failed' : 'offline', text);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.session === current && !this.options.stopped()) void this.connect();
    }, delay);
  }
}
