/**
 * A login cut short fails cleanly, never crashes (seen once in six runs of
 * systemd-container.test.ts: copilot-monitor's first login failed with an empty reason, then the
 * process died of "Cannot read properties of null (reading 'write')").
 *
 * A real Prosody (XEP-0198 on) behind a proxy on loopback that breaks the first connection at a
 * chosen point of the login: after the stream header, during STARTTLS and the TLS handshake,
 * during SASL, after authentication before binding, during stream management's enable, just
 * after online; closed (FIN) or reset, at once or a little later, or held back past xmpp.js's
 * 2 s timeouts (a slow server whose bytes arrive after the client gave up). Before online,
 * start() must reject with a reason that says what happened; after online, the session comes
 * back by itself. No uncaught exception or unhandled rejection (test/setup/fail-on-uncaught.ts
 * fails the test that had one).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { CopilotSession } from '@copilot/transport';
import { consoleLogger } from '@copilot/base/logger';
import { freePort, REPO_ROOT, startProsody, until, type ProsodyServer } from '@test/harness';
import {
  startLoginCutProxy,
  type CutPoint,
  type LoginCutProxy,
} from '@test/harness/login-cut-proxy';

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const USER = { username: 'copilot-monitor', password: 'pw-monitor' };

/** Prosody's modules with mod_smacks (XEP-0198) added, so the cut can hit `<enable/>` too. */
function withStreamManagement(tls: boolean): string {
  const modules = ['roster', 'saslauth', 'disco', 'ping', 'time', 'version', 'uptime', 'smacks'];
  if (tls) modules.push('tls');
  return `modules_enabled = { ${modules.map((name) => `"${name}"`).join('; ')} }`;
}

/** What start() must do: reject (cut before online), stay or come back online, or either. */
type Outcome = 'rejects' | 'online' | 'either';

interface CutCase {
  name: string;
  point: CutPoint;
  outcome: Outcome;
}

const cut = (
  name: string,
  point: Omit<CutPoint, 'action'> & { action?: CutPoint['action'] },
  outcome: Outcome = 'rejects',
): CutCase => ({ name, point: { action: 'cut', ...point }, outcome });

/** Plain XML on the wire (no TLS): every phase can be named by what the chunk contains. */
const PLAIN_CASES: CutCase[] = [
  cut('after the stream header', { direction: 'to-client', marker: '<stream:stream', at: 'after' }),
  cut('before the features', { direction: 'to-client', marker: '<stream:features', at: 'before' }),
  cut('SASL: auth not delivered', { direction: 'to-server', marker: '<auth', at: 'before' }),
  cut('SASL: auth delivered', { direction: 'to-server', marker: '<auth', at: 'after' }),
  cut('SASL: challenge lost', { direction: 'to-client', marker: '<challenge', at: 'before' }),
  cut('SASL: response lost', { direction: 'to-server', marker: '<response', at: 'before' }),
  cut('SASL: success lost', { direction: 'to-client', marker: '<success', at: 'before' }),
  cut('after auth, before restart', { direction: 'to-client', marker: '<success', at: 'after' }),
  cut('after auth, reset', {
    direction: 'to-client',
    marker: '<success',
    at: 'after',
    action: 'reset',
  }),
  cut('before bind', { direction: 'to-client', marker: 'xmpp-bind', at: 'before' }),
  cut('bind request lost', { direction: 'to-server', marker: 'xmpp-bind', at: 'before' }),
  cut('bind request delivered', { direction: 'to-server', marker: 'xmpp-bind', at: 'after' }),
  cut('bind result lost', { direction: 'to-client', marker: '<jid>', at: 'before' }),
  cut('SM: enable lost', { direction: 'to-server', marker: '<enable', at: 'before' }),
  cut('SM: enable delivered', { direction: 'to-server', marker: '<enable', at: 'after' }),
  cut('SM: enabled lost', { direction: 'to-client', marker: '<enabled', at: 'before' }),
  cut('SM: enable, reset', {
    direction: 'to-server',
    marker: '<enable',
    at: 'after',
    action: 'reset',
  }),
  cut(
    'SM: enabled, 5 ms later',
    { direction: 'to-client', marker: '<enabled', at: 'after', delayMs: 5 },
    'either',
  ),
  cut('just after online', { direction: 'to-server', marker: '<presence', at: 'after' }, 'online'),
  cut(
    'just after online, reset 20 ms later',
    { direction: 'to-server', marker: '<presence', at: 'after', action: 'reset', delayMs: 20 },
    'online',
  ),
  ...[1, 3, 10, 30].map((delayMs) =>
    cut(
      `auth delivered, cut ${delayMs} ms later`,
      { direction: 'to-server', marker: '<auth', at: 'after', delayMs },
      'either',
    ),
  ),
  // A slow server: its bytes come after xmpp.js's 2 s timeout, and (4.5 s) after xmpp.js gave
  // up waiting for the stream's end and dropped its parser: the crash of the Monitor.
  ...[2_500, 4_500].map((stallMs) =>
    cut(`slow stream header (${stallMs} ms)`, {
      direction: 'to-client',
      marker: '<stream:stream',
      at: 'before',
      action: 'stall',
      stallMs,
    }),
  ),
  cut(
    'slow features after auth',
    { direction: 'to-client', marker: 'xmpp-bind', at: 'before', action: 'stall', stallMs: 2_500 },
    'either',
  ),
];

/** With STARTTLS: named up to `<proceed/>`, then counted in TLS records (chunks) after it. */
const TLS_CASES: CutCase[] = [
  cut('STARTTLS asked, lost', { direction: 'to-server', marker: '<starttls', at: 'before' }),
  cut('STARTTLS: proceed lost', { direction: 'to-client', marker: '<proceed', at: 'before' }),
  cut('after proceed', { direction: 'to-client', marker: '<proceed', at: 'after' }),
  cut('slow proceed', {
    direction: 'to-client',
    marker: '<proceed',
    at: 'before',
    action: 'stall',
    stallMs: 2_500,
  }),
  ...[1, 2, 3, 4, 5, 6, 7].map((record) =>
    cut(
      `server's TLS record ${record} after proceed lost`,
      { direction: 'to-client', marker: '<proceed', afterChunks: record, at: 'before' },
      'either',
    ),
  ),
  ...[1, 2, 3, 4, 5, 6].map((record) =>
    cut(
      `client's TLS record ${record} lost, reset`,
      {
        direction: 'to-server',
        marker: '<starttls',
        afterChunks: record,
        at: 'before',
        action: 'reset',
      },
      'either',
    ),
  ),
];

/** Runs copilot-monitor through tsx to its exit; its exit code and what it wrote to stderr. */
function runMonitor(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, ['manager/bin/copilot-monitor.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

async function runCase(
  server: ProsodyServer,
  testCase: CutCase,
  tls: { ca: string } | undefined,
): Promise<void> {
  const proxy: LoginCutProxy = await startLoginCutProxy(server.port, testCase.point);
  const session = new CopilotSession({
    service: proxy.service,
    domain: server.domain,
    username: USER.username,
    password: USER.password,
    resource: 'cut',
    ...(process.env.CUT_DEBUG ? { logger: consoleLogger('cut', 'debug') } : {}),
    reconnect: { initialMs: 100, maxMs: 300, jitter: 0.2 },
    ...(tls ? { tls: { ca: tls.ca, requireTls: true } } : {}),
  });
  const errors: string[] = [];
  session.events.on('error', (error) => errors.push(error.message));
  try {
    let failure: Error | undefined;
    try {
      await session.start();
    } catch (error) {
      failure = error as Error;
    }
    // A cut just after online may come after start() resolved.
    if (!failure) await until('the cut point reached', () => proxy.triggered, 5_000);
    expect(proxy.triggered, 'the cut point was reached').toBe(true);
    if (testCase.outcome === 'rejects') {
      expect(failure, 'start() rejects').toBeInstanceOf(Error);
    }
    if (testCase.outcome === 'online') {
      expect(failure?.message).toBeUndefined();
    }
    if (failure) {
      // A reason after the colon, never the bare "failed:" of an empty TimeoutError.
      expect(failure.message).toMatch(/: \S.{4,}/);
      expect(failure.message).not.toMatch(/reading 'write'|null/);
      const connections = proxy.connections;
      // Nothing goes on after start() gave up: no reconnect behind the caller's back.
      await sleep(700);
      expect(proxy.connections).toBe(connections);
      expect(session.isOnline).toBe(false);
    } else {
      await until('the session back online', () => session.isOnline, 15_000);
    }
    // Late bytes and timers of the broken connection have had their turn.
    await sleep(testCase.point.action === 'stall' ? (testCase.point.stallMs ?? 2_500) : 300);
  } finally {
    await session.stop();
    await proxy.stop();
  }
}

describe.each([
  { tls: false, cases: PLAIN_CASES },
  { tls: true, cases: TLS_CASES },
])('a login cut short (tls: $tls)', ({ tls, cases }) => {
  let server: ProsodyServer;
  let ca: string | undefined;

  beforeAll(async () => {
    server = await startProsody({
      tls,
      users: [USER],
      scramIterations: 1_000,
      extraGlobalConfig: withStreamManagement(tls),
    });
    if (server.caCertPath) ca = fs.readFileSync(server.caCertPath, 'utf8');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each(cases)(
    '$name',
    async (testCase) => {
      await runCase(server, testCase, tls && ca ? { ca } : undefined);
    },
    30_000,
  );

  // A daemon whose first login fails exits (systemd's Restart=on-failure starts it again) with
  // one line that says why, no stack, and does not hang on a half-closed connection.
  it.skipIf(tls)(
    'copilot-monitor exits with one line when its first login is cut',
    async () => {
      const proxy = await startLoginCutProxy(server.port, {
        direction: 'to-server',
        marker: '<auth',
        at: 'after',
        action: 'cut',
      });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'login-cut-'));
      const config = path.join(dir, 'copilot-monitor.conf');
      fs.writeFileSync(config, '');
      try {
        const started = Date.now();
        const result = await runMonitor([
          `--config=${config}`,
          `--MON_JABBER_SERVER=127.0.0.1:${proxy.port}`,
          `--MON_JABBER_DOMAIN=${server.domain}`,
          `--MON_JABBER_ID=${USER.username}`,
          `--MON_JABBER_PASSWORD=${USER.password}`,
          `--CARBON_PORT=${await freePort()}`,
          `--MON_HTTP_PORT=${await freePort()}`,
          `--MON_ALLOWED_SENDERS=jm@${server.domain}`,
        ]);
        expect(result.code).toBe(1);
        expect(result.stderr.trim().split('\n')).toEqual([
          `copilot-monitor: XMPP connection to xmpp://127.0.0.1:${proxy.port} failed: ` +
            'the server closed the connection during SASL authentication',
        ]);
        expect(Date.now() - started).toBeLessThan(20_000);
      } finally {
        await proxy.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  // xmpp.js's stop() waits 2 s for the server's </stream:stream>, drops its parser, then waits
  // for the socket to close: bytes a slow server sends in that window reached parser.write on
  // null, an uncaught TypeError (a bench with 1,000 agents ended that way).
  it('stop() while the server is slow to answer', async () => {
    // A cut point never reached: the proxy only relays, until stallNow().
    const proxy = await startLoginCutProxy(server.port, {
      direction: 'to-client',
      marker: '<never-sent',
      at: 'before',
      action: 'cut',
    });
    const session = new CopilotSession({
      service: proxy.service,
      domain: server.domain,
      username: USER.username,
      password: USER.password,
      resource: 'slow',
      ...(tls && ca ? { tls: { ca, requireTls: true } } : {}),
    });
    try {
      await session.start();
      // The server's answers (the echo of this message, its </stream:stream>) come 3 s late.
      proxy.stallNow(3_000);
      session.sendStanza(xml('message', { to: session.jid }, xml('body', {}, 'echo')));
      const started = Date.now();
      await session.stop();
      expect(Date.now() - started).toBeGreaterThan(1_900);
      await sleep(2_000);
    } finally {
      await session.stop();
      await proxy.stop();
    }
  }, 30_000);
});
