import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { client as xmppClient } from '@xmpp/client';
import type { Client } from '@xmpp/client';
import { freePort, waitForPort } from './ports';
import { logsDir, runCommand, startProcess } from './processes';
import type { ServiceProcess } from './processes';

export interface XmppUser {
  username: string;
  password: string;
}

export interface ProsodyOptions {
  /** VirtualHost name; default "localhost". */
  domain?: string;
  /** MUC component; default `conference.<domain>`. */
  mucDomain?: string;
  /**
   * true: self-signed certificate for the domain, STARTTLS offered and required
   * (c2s_require_encryption = true). false (default): no certificate, no mod_tls, encryption
   * not required; SCRAM-SHA-1 is still offered (PLAIN is not offered without TLS).
   */
  tls?: boolean;
  /** Registered with prosodyctl before the server starts. */
  users?: XmppUser[];
  /** Level of the file log in the server dir (copied to test-artifacts/logs on stop). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** c2s_stanza_size_limit in bytes; Prosody's default (256 KiB) when unset. */
  stanzaSizeLimit?: number;
  /** SCRAM iteration count for accounts registered by this server (Prosody default 10000). */
  scramIterations?: number;
  /** Extra Lua lines appended to the global section of the config. */
  extraGlobalConfig?: string;
  /**
   * Invite-only in-band registration (mod_invites, mod_invites_register, mod_register_ibr):
   * createInvite() makes a token an attach link carries. Default false.
   */
  invites?: boolean;
  /** Default 30 s. */
  readyTimeoutMs?: number;
  /**
   * Who hears an occupant's join in a room made on this server: `all` (default, XEP-0045's
   * default) or `moderators`, the setting for a Heartbeat room of thousands of agents
   * (`muc_room_default_presence_broadcast = { moderator = true }`: only moderators' presence
   * is broadcast; a participant's join goes to nobody but itself).
   */
  roomPresence?: RoomPresence;
  /**
   * true: rooms made here are non-anonymous (`muc_room_default_public_jids`), every occupant
   * sees the others' real JIDs; default false, XEP-0045's semi-anonymous room.
   */
  roomJidsPublic?: boolean;
  /**
   * Accounts (user names of this domain or bare JIDs) that own every room of the MUC service
   * (`admins` of the MUC component): they join as moderators and may list the occupants.
   */
  mucAdmins?: readonly string[];
  /**
   * Server admins (`admins`; user names of this domain or bare JIDs). With `invites`, they may
   * run mod_invites_adhoc's "Create new account invite" ad-hoc command (XEP-0050).
   */
  serverAdmins?: readonly string[];
}

export type RoomPresence = 'all' | 'moderators';

/** `user` → `user@domain`; a JID stays as it is. */
export function adminJids(admins: readonly string[] | undefined, domain: string): string[] {
  return (admins ?? []).map((admin) => (admin.includes('@') ? admin : `${admin}@${domain}`));
}

export interface ProsodyServer {
  readonly host: '127.0.0.1';
  /** c2s port on 127.0.0.1 (stays the same across restart()). */
  readonly port: number;
  /** `xmpp://127.0.0.1:<port>`, the `service` option for @xmpp/client. */
  readonly service: string;
  readonly domain: string;
  readonly mucDomain: string;
  readonly tls: boolean;
  /** Temp dir with config, data, certs, pidfile and prosody.log. */
  readonly dir: string;
  readonly configPath: string;
  /** Prosody's own log file (inside dir). */
  readonly logPath: string;
  /** The self-signed certificate (PEM) when tls=true; it is its own CA. */
  readonly caCertPath?: string;
  /** SHA-256 fingerprint (`AA:BB:…`) of that certificate when tls=true. */
  readonly certFingerprint256?: string;
  /** The current prosody process (changes on restart()). */
  readonly process: ServiceProcess;
  jid(username: string): string;
  /** Registers an account with prosodyctl; a running server sees it at once. */
  registerUser(username: string, password: string): Promise<void>;
  /** Registers many accounts (prosodyctl, a few in parallel). */
  registerUsers(users: readonly XmppUser[], concurrency?: number): Promise<void>;
  unregisterUser(username: string): Promise<void>;
  /** A one-use account invite token (`prosodyctl mod_invites generate`); needs `invites: true`. */
  createInvite?(): Promise<string>;
  /** SIGTERM (SIGKILL after 5 s), copies the log to test-artifacts/logs, deletes dir. */
  stop(): Promise<void>;
  /** SIGKILL; dir and data stay, so restart() can bring it back. */
  kill9(): Promise<void>;
  /** Stops (if running) and starts again on the same port with the same data. */
  restart(): Promise<void>;
}

/** Lua string literal. */
function lua(value: string): string {
  return JSON.stringify(value);
}

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
}

export function lookupUnixUser(name: string): UnixUser | undefined {
  let passwd: string;
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields.length >= 4) {
      return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  return undefined;
}

/**
 * Prosody refuses to run as root: as root we run it (and prosodyctl) as the Debian package's
 * `prosody` user via setpriv, which execs (so the pid we hold is prosody's own and kill9()
 * really kills it). Not root: run it as ourselves.
 */
function prosodyRunAs(): UnixUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = process.env.PROSODY_USER ?? 'prosody';
  const user = lookupUnixUser(name);
  if (!user) {
    throw new Error(
      `startProsody: running as root but there is no '${name}' user (apt-get install prosody creates it)`,
    );
  }
  return user;
}

export function asUser(
  user: UnixUser | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  if (!user) return [command, args];
  return [
    'setpriv',
    [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', command, ...args],
  ];
}

export function chownTree(target: string, user: UnixUser | undefined): void {
  if (!user) return;
  fs.chownSync(target, user.uid, user.gid);
  const stat = fs.lstatSync(target);
  if (stat.isDirectory()) {
    for (const entry of fs.readdirSync(target)) chownTree(path.join(target, entry), user);
  }
}

function buildConfig(o: {
  dir: string;
  port: number;
  domain: string;
  mucDomain: string;
  tls: boolean;
  certPath?: string;
  keyPath?: string;
  logLevel: string;
  stanzaSizeLimit?: number;
  scramIterations?: number;
  extraGlobalConfig?: string;
  invites?: boolean;
  roomPresence: RoomPresence;
  roomJidsPublic: boolean;
  mucAdmins: string[];
  serverAdmins: string[];
}): string {
  const p = (name: string): string => lua(path.join(o.dir, name));
  const modules = ['roster', 'saslauth', 'disco', 'ping', 'time', 'version', 'uptime'];
  if (o.tls) modules.push('tls');
  if (o.invites) modules.push('invites', 'invites_register', 'register_ibr', 'invites_adhoc');
  const ssl =
    o.tls && o.certPath && o.keyPath
      ? `{ certificate = ${lua(o.certPath)}; key = ${lua(o.keyPath)}; }`
      : undefined;
  const lines = [
    '-- Generated by test/harness/prosody.ts: a throwaway server for tests and benchmarks.',
    `pidfile = ${p('prosody.pid')}`,
    `data_path = ${p('data')}`,
    `certificates = ${p('certs')}`,
    `log = { ${o.logLevel} = ${p('prosody.log')}; { levels = { min = "error" }, to = "console" }; }`,
    `admins = { ${o.serverAdmins.map(lua).join('; ')} }`,
    '',
    '-- Only a c2s listener, on loopback; no s2s, no HTTP, no direct-TLS or component ports.',
    'interfaces = { "127.0.0.1" }',
    'local_interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${o.port} }`,
    'c2s_interfaces = { "127.0.0.1" }',
    '-- Co-Pilot is small request/reply stanzas: without this each one waits for a delayed ack.',
    'network_settings = { nagle = false }',
    'c2s_direct_tls_ports = { }',
    'legacy_ssl_ports = { }',
    's2s_ports = { }',
    'http_ports = { }',
    'https_ports = { }',
    'component_ports = { }',
    '',
    `modules_enabled = { ${modules.map(lua).join('; ')} }`,
    '-- no s2s; no mod_limits (it throttles c2s reads), benchmarks push thousands of stanzas/s',
    o.invites
      ? 'modules_disabled = { "s2s"; "s2s_auth_certs"; "limits"; "register" }'
      : 'modules_disabled = { "s2s"; "s2s_auth_certs"; "limits"; "register"; "register_ibr" }',
    'allow_registration = false',
    ...(o.invites
      ? ['registration_invite_only = true -- in-band registration with an invite']
      : []),
    '',
    'authentication = "internal_hashed" -- SCRAM-SHA-1',
    'storage = "internal"',
    `c2s_require_encryption = ${o.tls ? 'true' : 'false'}`,
    's2s_require_encryption = false',
  ];
  if (o.scramIterations !== undefined) {
    lines.push(`default_iteration_count = ${Math.trunc(o.scramIterations)}`);
  }
  if (o.stanzaSizeLimit !== undefined) {
    lines.push(`c2s_stanza_size_limit = ${Math.trunc(o.stanzaSizeLimit)}`);
  }
  if (ssl) lines.push(`ssl = ${ssl}`);
  if (o.extraGlobalConfig) lines.push('', o.extraGlobalConfig);
  lines.push('', `VirtualHost ${lua(o.domain)}`);
  if (ssl) lines.push(`  ssl = ${ssl}`);
  lines.push(
    '',
    `Component ${lua(o.mucDomain)} "muc"`,
    '  restrict_room_creation = "local" -- any user of the server may create rooms',
    '  muc_room_default_persistent = false',
    '  muc_room_default_public = true',
    '  muc_room_locking = false -- joinable at once, without owner configuration',
    '  muc_tombstones = false',
  );
  if (o.roomJidsPublic) lines.push('  muc_room_default_public_jids = true');
  if (o.roomPresence === 'moderators') {
    lines.push(
      "  -- occupants' joins go to nobody: a room of thousands costs O(N), not O(N²), presences",
      '  muc_room_default_presence_broadcast = { moderator = true }',
    );
  }
  if (o.mucAdmins.length > 0) {
    lines.push(
      '  -- owners of every room here: moderators, who may list the occupants (muc#admin)',
      `  admins = { ${o.mucAdmins.map(lua).join('; ')} }`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** A self-signed certificate (its own CA) for `domain` and `altNames`, in `<dir>/certs`. */
export async function generateCertificate(
  dir: string,
  domain: string,
  altNames: string[],
): Promise<{ certPath: string; keyPath: string; fingerprint256: string }> {
  const certPath = path.join(dir, 'certs', `${domain}.crt`);
  const keyPath = path.join(dir, 'certs', `${domain}.key`);
  const san = [domain, ...altNames].map((n) => `DNS:${n}`).join(',');
  await runCommand('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '7',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-subj',
    `/CN=${domain}`,
    '-addext',
    `subjectAltName=${san}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
  ]);
  fs.chmodSync(keyPath, 0o600);
  const fingerprint256 = new crypto.X509Certificate(fs.readFileSync(certPath)).fingerprint256;
  return { certPath, keyPath, fingerprint256 };
}

let uniqueCounter = 0;

/**
 * Starts a private Prosody 0.12 on a free loopback port in a fresh temp dir and waits until a
 * real SCRAM login succeeds.
 */
export async function startProsody(options: ProsodyOptions = {}): Promise<ProsodyServer> {
  const domain = options.domain ?? 'localhost';
  const mucDomain = options.mucDomain ?? `conference.${domain}`;
  const useTls = options.tls ?? false;
  const runAs = prosodyRunAs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-prosody-'));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'data'));
  fs.mkdirSync(path.join(dir, 'certs'));
  const configPath = path.join(dir, 'prosody.cfg.lua');
  const logPath = path.join(dir, 'prosody.log');

  let cert: { certPath: string; keyPath: string; fingerprint256: string } | undefined;
  if (useTls) cert = await generateCertificate(dir, domain, [mucDomain]);

  const port = await freePort();
  fs.writeFileSync(
    configPath,
    buildConfig({
      dir,
      port,
      domain,
      mucDomain,
      tls: useTls,
      certPath: cert?.certPath,
      keyPath: cert?.keyPath,
      logLevel: options.logLevel ?? 'info',
      stanzaSizeLimit: options.stanzaSizeLimit,
      scramIterations: options.scramIterations,
      extraGlobalConfig: options.extraGlobalConfig,
      invites: options.invites,
      roomPresence: options.roomPresence ?? 'all',
      roomJidsPublic: options.roomJidsPublic ?? false,
      mucAdmins: adminJids(options.mucAdmins, domain),
      serverAdmins: adminJids(options.serverAdmins, domain),
    }),
  );
  chownTree(dir, runAs);

  const prosodyctl = async (args: string[]): Promise<void> => {
    const [command, argv] = asUser(runAs, 'prosodyctl', ['--config', configPath, ...args]);
    await runCommand(command, argv, { cwd: dir, timeoutMs: 30_000 });
  };
  const createInvite = async (): Promise<string> => {
    const [command, argv] = asUser(runAs, 'prosodyctl', [
      '--config',
      configPath,
      'mod_invites',
      'generate',
      domain,
    ]);
    const { stdout } = await runCommand(command, argv, { cwd: dir, timeoutMs: 30_000 });
    const token = /preauth=([A-Za-z0-9_.~-]+)/.exec(stdout)?.[1];
    if (!token) throw new Error(`prosodyctl mod_invites generate printed no invite: ${stdout}`);
    return token;
  };
  const registerUser = (username: string, password: string): Promise<void> =>
    prosodyctl(['register', username, domain, password]);
  const registerUsers = async (users: readonly XmppUser[], concurrency = 4): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < users.length) {
        const user = users[next];
        next += 1;
        if (user) await registerUser(user.username, user.password);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  };

  // A private account for the readiness login.
  uniqueCounter += 1;
  const probe: XmppUser = {
    username: `harness-probe-${process.pid}-${uniqueCounter}`,
    password: crypto.randomBytes(12).toString('hex'),
  };
  await registerUsers([probe, ...(options.users ?? [])]);

  const info = {
    host: '127.0.0.1' as const,
    port,
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    mucDomain,
    tls: useTls,
    caCertPath: cert?.certPath,
    certFingerprint256: cert?.fingerprint256,
  };

  const launch = (): Promise<ServiceProcess> => {
    const [command, argv] = asUser(runAs, 'prosody', ['-F', '--config', configPath]);
    return startProcess({
      name: 'prosody',
      command,
      args: argv,
      cwd: dir,
      env: { ...process.env, HOME: dir },
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      ready: async (_proc, signal) => {
        await waitForPort(port, '127.0.0.1', options.readyTimeoutMs ?? 30_000, { signal });
        const session = await connectXmpp(info, probe, { timeoutMs: 15_000 });
        await session.stop();
      },
    });
  };

  let current = await launch();
  let stopped = false;

  const server: ProsodyServer = {
    ...info,
    dir,
    configPath,
    logPath,
    get process() {
      return current;
    },
    jid: (username) => `${username}@${domain}`,
    registerUser,
    registerUsers,
    createInvite,
    unregisterUser: (username) => prosodyctl(['deluser', `${username}@${domain}`]),
    async stop() {
      if (stopped) return;
      stopped = true;
      await current.stop();
      try {
        fs.copyFileSync(logPath, path.join(logsDir(), `prosody-${port}-${current.pid}.server.log`));
      } catch {
        // no log written
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async kill9() {
      await current.kill9();
    },
    async restart() {
      if (stopped) throw new Error('ProsodyServer.restart() after stop()');
      await current.stop();
      current = await launch();
    },
  };
  return server;
}

// ---------------------------------------------------------------------------------------------
// Client helper

export interface XmppEndpoint {
  service: string;
  domain: string;
  tls: boolean;
  certFingerprint256?: string;
}

export interface XmppSession {
  client: Client;
  /** Full JID after resource binding. */
  jid: string;
  /** SASL mechanism the client used (from its <auth mechanism=…>). */
  mechanism: string | undefined;
  /** Mechanisms the server offered before authentication. */
  offeredMechanisms: string[];
  /** Whether the server offered STARTTLS. */
  starttlsOffered: boolean;
  /** Peer certificate fingerprint when the stream is TLS. */
  peerFingerprint256: string | undefined;
  stop(): Promise<void>;
}

let unverifiedTlsDepth = 0;
let savedRejectUnauthorized: string | undefined;

/**
 * Runs fn with NODE_TLS_REJECT_UNAUTHORIZED=0 (read by Node at each tls.connect), restoring it
 * afterwards. @xmpp/client's STARTTLS upgrade takes no `ca` option; callers check the peer
 * certificate fingerprint themselves (connectXmpp does).
 */
export async function withUnverifiedTls<T>(fn: () => Promise<T>): Promise<T> {
  if (unverifiedTlsDepth === 0) {
    savedRejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  }
  unverifiedTlsDepth += 1;
  try {
    return await fn();
  } finally {
    unverifiedTlsDepth -= 1;
    if (unverifiedTlsDepth === 0) {
      if (savedRejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = savedRejectUnauthorized;
    }
  }
}

interface ElementLike {
  name: string;
  attrs: Record<string, string>;
  getChild(name: string, xmlns?: string): ElementLike | undefined;
  getChildren(name: string, xmlns?: string): ElementLike[];
  text(): string;
}

function isElementLike(value: unknown): value is ElementLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { getChild?: unknown }).getChild === 'function'
  );
}

function innerTlsSocket(client: Client): tls.TLSSocket | undefined {
  const wrapper: unknown = client.socket;
  if (wrapper instanceof tls.TLSSocket) return wrapper;
  if (typeof wrapper === 'object' && wrapper !== null) {
    const inner = (wrapper as { socket?: unknown }).socket;
    if (inner instanceof tls.TLSSocket) return inner;
  }
  return undefined;
}

/**
 * Logs in to a harness Prosody with @xmpp/client and resolves once online. On a TLS server the
 * certificate is not verified by Node (see withUnverifiedTls) but its fingerprint must equal the
 * generated one. Rejects with the client's error (e.g. SASLError `not-authorized`).
 */
export async function connectXmpp(
  server: XmppEndpoint,
  user: XmppUser,
  options: { resource?: string; timeoutMs?: number } = {},
): Promise<XmppSession> {
  const client = xmppClient({
    service: server.service,
    domain: server.domain,
    username: user.username,
    password: user.password,
    resource: options.resource,
    timeout: options.timeoutMs ?? 10_000,
  });
  // No automatic reconnects in tests: a lost connection must show.
  client.reconnect.stop();
  let mechanism: string | undefined;
  let offeredMechanisms: string[] = [];
  let starttlsOffered = false;
  const errors: Error[] = [];
  client.on('error', (error: Error) => {
    errors.push(error);
  });
  client.on('send', (el: unknown) => {
    if (isElementLike(el) && el.name === 'auth') mechanism = el.attrs.mechanism;
  });
  client.on('element', (el: unknown) => {
    if (!isElementLike(el) || el.name !== 'stream:features') return;
    if (el.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls')) starttlsOffered = true;
    const mechs = el.getChild('mechanisms', 'urn:ietf:params:xml:ns:xmpp-sasl');
    if (mechs) offeredMechanisms = mechs.getChildren('mechanism').map((m) => m.text());
  });

  const start = (): Promise<unknown> => client.start();
  try {
    const jid = await (server.tls ? withUnverifiedTls(start) : start());
    let peerFingerprint256: string | undefined;
    const tlsSocket = innerTlsSocket(client);
    if (tlsSocket) peerFingerprint256 = tlsSocket.getPeerCertificate().fingerprint256;
    if (server.tls) {
      if (!tlsSocket) throw new Error('connectXmpp: tls=true but the stream is not encrypted');
      if (server.certFingerprint256 && peerFingerprint256 !== server.certFingerprint256) {
        throw new Error(
          `connectXmpp: server certificate ${String(peerFingerprint256)} is not the generated one ${server.certFingerprint256}`,
        );
      }
    }
    return {
      client,
      jid: String(jid),
      mechanism,
      offeredMechanisms,
      starttlsOffered,
      peerFingerprint256,
      stop: async () => {
        await client.stop().catch(() => undefined);
      },
    };
  } catch (error) {
    await client.stop().catch(() => undefined);
    throw error;
  }
}
