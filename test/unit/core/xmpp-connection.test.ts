import { generateKeyPairSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentSettings, ConnectionState } from '@copilot/contract/ui-contract';
import { SessionChannel } from '@copilot/core/manager-exchange';
import {
  fixedConnection,
  isConfigured,
  sessionSecurity,
  XmppConnection,
} from '@copilot/core/xmpp-connection';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { AgentSecureLayer } from '@copilot/transport/secure-layer';

type Outcome = 'online' | 'refused' | 'unreachable';

/** Just enough of an xmpp.js client for CopilotSession; start() does what the test scripted. */
class FakeClient extends EventEmitter {
  status = 'offline';
  socket = null;
  streamManagement = { id: '', inbound: 0, outbound: 0, outbound_q: [] as unknown[] };
  reconnect = { stop: (): void => undefined, reconnect: (): Promise<void> => Promise.resolve() };
  stops = 0;

  constructor(
    readonly options: { service: string; domain: string; resource?: string },
    private readonly outcome: Outcome,
  ) {
    super();
  }

  start(): Promise<void> {
    this.status = 'connecting';
    switch (this.outcome) {
      case 'online':
        this.status = 'online';
        this.emit('online', { toString: () => `agent@${this.options.domain}/a` });
        return Promise.resolve();
      case 'refused':
        // What xmpp.js's SASL gives: a condition, and a message that does not say it.
        return Promise.reject(
          Object.assign(new Error('SASL authentication failed'), { condition: 'not-authorized' }),
        );
      case 'unreachable':
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5222'));
    }
  }

  /** Like xmpp.js: 'offline' is emitted when the status changes to it. */
  stop(): Promise<void> {
    this.stops += 1;
    if (this.status !== 'offline') {
      this.status = 'offline';
      this.emit('offline');
    }
    return Promise.resolve();
  }

  send(): Promise<void> {
    return Promise.resolve();
  }

  drop(): void {
    this.status = 'disconnect';
    this.emit('disconnect');
  }
}

const fake = vi.hoisted(() => ({ create: (_options: unknown): unknown => undefined }));
vi.mock('@xmpp/client', () => ({
  client: (options: unknown) => fake.create(options),
}));

const CONFIGURED: AgentSettings = {
  ...DEFAULT_SETTINGS,
  jobManagerAddress: 'jm@localhost',
  xmppServer: '127.0.0.1',
  xmppDomain: 'localhost',
  xmppUsername: 'agent',
  xmppPassword: 'secret',
};

interface Rig {
  connection: XmppConnection;
  channel: SessionChannel;
  clients: FakeClient[];
  /** What the next clients' start() does, in order; then 'online'. */
  outcomes: Outcome[];
  settings: AgentSettings;
  stopped: boolean;
  states: ConnectionState[];
  onlines: number;
  logs: LogRecord[];
}

function rig(settings: Partial<AgentSettings> = {}): Rig {
  const r: Rig = {
    connection: undefined as unknown as XmppConnection,
    channel: new SessionChannel(),
    clients: [],
    outcomes: [],
    settings: { ...CONFIGURED, ...settings },
    stopped: false,
    states: [],
    onlines: 0,
    logs: [],
  };
  fake.create = (options) => {
    const client = new FakeClient(options as FakeClient['options'], r.outcomes.shift() ?? 'online');
    r.clients.push(client);
    return client;
  };
  r.connection = new XmppConnection({
    settings: () => r.settings,
    channel: r.channel,
    resource: 'agent-test',
    logger: createLogger('agent', (record) => r.logs.push(record)),
    service: 'xmpp://127.0.0.1:5222',
    stopped: () => r.stopped,
    onChange: () => r.states.push(r.connection.state),
    onOnline: () => {
      r.onlines += 1;
    },
  });
  return r;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('XmppConnection', () => {
  it('does not connect without settings: not-configured, no session', async () => {
    const r = rig({ xmppPassword: '' });
    await r.connection.connect();
    expect(r.connection.state).toBe('not-configured');
    expect(r.connection.message).toBe(
      'Set the Jabber server, domain, ID, password and job manager address',
    );
    expect(r.connection.session).toBeUndefined();
    expect(r.connection.jid).toBeNull();
    expect(r.clients).toEqual([]);
  });

  it('goes offline with the reason, and does not retry, when the manager key cannot be read', async () => {
    const r = rig({ secureMode: true, jobManagerPublicKey: 'not a PEM key' });
    await r.connection.connect();
    expect(r.connection.state).toBe('offline');
    expect(r.connection.message).toMatch(
      /^secure mode: the job manager's public key cannot be read \(.+\)$/,
    );
    expect(r.states).toEqual(['offline']);
    expect(r.connection.session).toBeUndefined();
    expect(r.logs.find((record) => record.message === 'cannot connect')?.level).toBe('error');
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(r.clients).toEqual([]);
    expect(r.connection.state).toBe('offline');
  });

  it('comes online, calls onOnline and attaches the session to the channel', async () => {
    const r = rig();
    await r.connection.connect();
    expect(r.connection.state).toBe('online');
    expect(r.connection.message).toBe('Connected as agent@localhost/a');
    expect(r.connection.jid).toBe('agent@localhost/a');
    expect(r.states).toEqual(['connecting', 'online']);
    expect(r.onlines).toBe(1);
    expect(r.clients).toHaveLength(1);
    expect(r.clients[0]?.options).toMatchObject({
      service: 'xmpp://127.0.0.1:5222',
      domain: 'localhost',
      resource: 'agent-test',
    });
    expect(r.channel.online).toBe(true);
  });

  it('says so when an online connection is lost', async () => {
    const r = rig();
    await r.connection.connect();
    r.clients[0]?.drop();
    expect(r.connection.state).toBe('offline');
    expect(r.connection.message).toBe('Connection lost; reconnecting');
  });

  it('reports a refused login as auth-failed and retries only after the minute-long back-off', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const r = rig();
    r.outcomes.push('refused', 'unreachable');
    await r.connection.connect();
    expect(r.connection.state).toBe('auth-failed');
    expect(r.connection.message).toBe(
      'XMPP login refused for agent@localhost: wrong user name or password',
    );
    expect(r.connection.session).not.toBeUndefined();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(r.clients).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.clients).toHaveLength(2);

    // The second attempt cannot reach the server: offline, and seconds (not minutes) to wait.
    expect(r.connection.state).toBe('offline');
    expect(r.connection.message).toMatch(/cannot reach the XMPP server at xmpp:\/\/127\.0\.0\.1/);
    await vi.advanceTimersByTimeAsync(3999);
    expect(r.clients).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.clients).toHaveLength(3);
    expect(r.connection.state).toBe('online');
    expect(r.onlines).toBe(1);
  });

  it('never retries a refused login sooner than its back-off allows with the most jitter', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const r = rig();
    r.outcomes.push('refused');
    await r.connection.connect();
    expect(r.connection.state).toBe('auth-failed');
    // 60 s less its 30 % jitter.
    await vi.advanceTimersByTimeAsync(41_999);
    expect(r.clients).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.clients).toHaveLength(2);
  });

  it('retries an unreachable server after about 2 s', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const r = rig();
    r.outcomes.push('unreachable');
    await r.connection.connect();
    expect(r.connection.state).toBe('offline');
    expect(r.states[0]).toBe('connecting');
    expect(r.states.at(-1)).toBe('offline');
    expect(r.connection.message).toBe(
      'cannot reach the XMPP server at xmpp://127.0.0.1:5222: connect ECONNREFUSED 127.0.0.1:5222',
    );
    expect(r.logs.find((record) => record.level === 'warn')).toMatchObject({
      message: 'cannot connect to the XMPP server; retrying',
      fields: { inMs: 2000 },
    });
    await vi.advanceTimersByTimeAsync(1999);
    expect(r.clients).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.clients).toHaveLength(2);
    expect(r.connection.state).toBe('online');
  });

  it('starts the back-off again once online', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const r = rig();
    r.outcomes.push('unreachable', 'unreachable', 'online', 'unreachable');
    await r.connection.connect();
    await vi.advanceTimersByTimeAsync(2000 + 4000);
    expect(r.clients).toHaveLength(3);
    expect(r.connection.state).toBe('online');
    // The agent stops and starts again; this connect fails: 2 s to wait again, not 8 s.
    await r.connection.disconnect();
    await r.connection.connect();
    expect(r.connection.state).toBe('offline');
    await vi.advanceTimersByTimeAsync(1999);
    expect(r.clients).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.clients).toHaveLength(5);
  });

  it('reconnect() stops the old session and starts a new one from the current settings', async () => {
    const r = rig();
    await r.connection.connect();
    const old = r.connection.session;
    r.settings = { ...r.settings, xmppDomain: 'example.org' };
    await r.connection.reconnect();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.clients).toHaveLength(2);
    expect(r.clients[0]?.stops).toBe(1);
    expect(r.clients[1]?.options.domain).toBe('example.org');
    expect(r.connection.session).not.toBe(old);
    expect(r.connection.state).toBe('online');
    expect(r.connection.jid).toBe('agent@example.org/a');
    expect(r.onlines).toBe(2);
    expect(r.channel.online).toBe(true);
    // The old session has no say any more.
    r.clients[0]?.emit('offline');
    expect(r.connection.state).toBe('online');
    r.clients[0]?.emit('online', { toString: () => 'agent@localhost/stale' });
    expect(r.connection.message).toBe('Connected as agent@example.org/a');
    expect(r.onlines).toBe(2);
  });

  it('reconnect() cancels a pending retry of the old session', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const r = rig();
    r.outcomes.push('unreachable', 'refused');
    await r.connection.connect();
    await r.connection.reconnect();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.clients).toHaveLength(2);
    expect(r.connection.state).toBe('auth-failed');
    // Only the new session's retry (a minute) is due; the old one's 2 s retry is gone.
    await vi.advanceTimersByTimeAsync(59_999);
    expect(r.clients).toHaveLength(2);
  });

  it('disconnect() stops the session and detaches it', async () => {
    const r = rig();
    await r.connection.connect();
    await r.connection.disconnect();
    expect(r.connection.session).toBeUndefined();
    expect(r.connection.jid).toBeNull();
    expect(r.clients[0]?.stops).toBe(1);
    expect(r.channel.online).toBe(false);
  });

  it('does not connect while the agent is stopped', async () => {
    const r = rig();
    r.stopped = true;
    await r.connection.connect();
    expect(r.clients).toEqual([]);
    expect(r.connection.session).toBeUndefined();
    expect(r.connection.state).toBe('not-configured');
    expect(r.states).toEqual([]);
  });

  it('does not retry once the agent has stopped', async () => {
    const r = rig();
    r.outcomes.push('unreachable');
    await r.connection.connect();
    r.stopped = true;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(r.clients).toHaveLength(1);
  });
});

describe('connection helpers', () => {
  it('isConfigured needs server, domain, user, password and a job manager', () => {
    expect(isConfigured(CONFIGURED)).toBe(true);
    for (const field of [
      'jobManagerAddress',
      'xmppServer',
      'xmppDomain',
      'xmppUsername',
      'xmppPassword',
    ] as const) {
      expect(isConfigured({ ...CONFIGURED, [field]: '' })).toBe(false);
    }
  });

  it('sessionSecurity adds the secure layer and TLS only when the settings ask', () => {
    expect(sessionSecurity(CONFIGURED)).toEqual({});
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const secure = sessionSecurity({ ...CONFIGURED, secureMode: true, jobManagerPublicKey: pem });
    expect(secure.layers).toHaveLength(1);
    expect(secure.layers?.[0]).toBeInstanceOf(AgentSecureLayer);
    expect(secure.tls).toBeUndefined();
    expect(sessionSecurity({ ...CONFIGURED, requireTls: true }).tls).toEqual({ requireTls: true });
    expect(sessionSecurity({ ...CONFIGURED, xmppCaCertificate: 'PEM' }).tls).toEqual({
      requireTls: false,
      ca: 'PEM',
    });
    expect(() =>
      sessionSecurity({ ...CONFIGURED, secureMode: true, jobManagerPublicKey: 'junk' }),
    ).toThrow(/public key cannot be read/);
  });

  it('fixedConnection is always online as the given JID', async () => {
    const connection = fixedConnection('agent-test');
    expect(connection).toMatchObject({ state: 'online', jid: 'agent-test', session: undefined });
    await expect(connection.connect()).resolves.toBeUndefined();
    await expect(connection.reconnect()).resolves.toBeUndefined();
  });
});
