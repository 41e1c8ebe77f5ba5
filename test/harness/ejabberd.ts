/**
 * A private ejabberd (Debian's 23.01, the server report 4.1.1 recommends) for tests and
 * benchmarks, with the same interface as the Prosody harness, so a test can run over either:
 * generated config, c2s on a free loopback port, spool (Mnesia), log and certificate in a fresh
 * temp dir, accounts registered through ejabberd_ctl (what `ejabberdctl register` runs), a MUC
 * service, STARTTLS with a generated certificate when asked.
 *
 * What differs from Debian's /etc/ejabberd/ejabberd.yml, and why:
 * - One c2s listener on 127.0.0.1; no s2s, HTTP, STUN or MQTT listeners.
 * - No shaper on c2s (Debian's `normal` shaper holds a burst of job messages back), MUC rooms
 *   for 100,000 occupants (Debian: 200), a stream-management ack queue and a c2s process queue
 *   for bursts of thousands of stanzas (Debian: 5,000 and 10,000), 100 sessions per account.
 * - No mod_fail2ban (a test with a wrong password would ban 127.0.0.1), no mod_pres_counter
 *   (rooms are joined again after each reconnect), no mod_offline (like the Prosody harness: a
 *   message to an account with no session bounces instead of waiting for the next login).
 * - Kept as in Debian: stream management (XEP-0198) on, STARTTLS required when `tls` is set.
 *
 * Erlang distribution, which ejabberd_ctl needs, listens on a second free loopback port with no
 * epmd (`-erl_epmd_port`, `-start_epmd false`), under a node name unique to this server and a
 * random cookie in `<dir>/.erlang.cookie` (HOME is the server dir). As root, the server and
 * ejabberd_ctl run as the Debian package's `ejabberd` user via setpriv. The open-file limit is
 * raised to the hard limit (at most 65,536), and ERL_MAX_PORTS with it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { logsDir, runCommand, startProcess } from './processes';
import type { ServiceProcess } from './processes';
import {
  asUser,
  chownTree,
  connectXmpp,
  generateCertificate,
  lookupUnixUser,
  adminJids,
  type ProsodyServer,
  type RoomPresence,
  type UnixUser,
  type XmppUser,
} from './prosody';

export interface EjabberdOptions {
  /** Virtual host; default "localhost". */
  domain?: string;
  /** MUC service; default `conference.<domain>`. */
  mucDomain?: string;
  /** true: a certificate for the domain and STARTTLS required (`starttls_required`). */
  tls?: boolean;
  /** Registered once the server runs, before start resolves. */
  users?: XmppUser[];
  /** ejabberd's `loglevel`; default info. */
  logLevel?: 'debug' | 'info' | 'warning' | 'error';
  /** `max_stanza_size` of the c2s listener; default 262144, as in Debian's config. */
  stanzaSizeLimit?: number;
  /** Occupants a MUC room holds; default 100,000. */
  maxRoomOccupants?: number;
  /** Stream management's `max_ack_queue`; default 100,000. */
  maxAckQueue?: number;
  /** Extra top-level YAML appended to the generated config. */
  extraConfig?: string;
  /** Default 60 s (ejabberd starts in about 1–2 s; Mnesia creation may take longer). */
  readyTimeoutMs?: number;
  /**
   * Erlang distribution through a running epmd on this loopback port (a cluster's nodes find
   * each other there) instead of a node of its own without epmd. startEjabberdCluster sets it.
   */
  epmdPort?: number;
  /** The Erlang cookie; default random. The nodes of one cluster share one. */
  erlangCookie?: string;
  /** The account the harness logs in with to see the server up; default one of its own. */
  probeUser?: XmppUser;
  /**
   * Who hears an occupant's join: `all` (default) or `moderators` (room option
   * `presence_broadcast: [moderator]`: a participant's join goes to nobody but itself; the
   * room still lists everyone in disco#items and to a moderator's muc#admin query).
   */
  roomPresence?: RoomPresence;
  /** true: rooms are non-anonymous (`anonymous: false`): occupants see each other's real JIDs. */
  roomJidsPublic?: boolean;
  /** Accounts (user names or bare JIDs) that own every room (mod_muc `access_admin`). */
  mucAdmins?: readonly string[];
  /** false: Erlang's default scheduler stacks, without DEEP_XML_GUARD (to show why it is there). */
  deepXmlGuard?: boolean;
}

/** The Prosody harness's interface, so tests can take either server. */
export interface EjabberdServer extends ProsodyServer {
  readonly kind: 'ejabberd';
  /** The Erlang node name, e.g. `copilot-ejabberd-1234-1-ab12cd@127.0.0.1`. */
  readonly nodeName: string;
  /** Runs an ejabberd_ctl command (`ejabberdctl <args…>`) against this server; its stdout. */
  ctl(args: readonly string[]): Promise<string>;
}

const ERL_LIBS = '/usr/lib/x86_64-linux-gnu';
/** disk_log flushes its write cache within 2 s; a little more to be sure. */
const MNESIA_LOG_FLUSH_MS = 2_500;
/** Open files (one per connection) wanted: a bench connects thousands of agents. */
const WANTED_OPEN_FILES = 65_536;

/** This process's open-file limits from /proc/self/limits (soft, hard), if readable. */
function openFileLimits(): { soft: number; hard: number } | undefined {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((row) => row.startsWith('Max open files'));
    const [soft, hard] = (line ?? '').split(/\s+/).slice(3, 5);
    const parse = (value: string | undefined): number =>
      value === 'unlimited' ? Infinity : Number(value);
    const limits = { soft: parse(soft), hard: parse(hard) };
    return Number.isNaN(limits.soft) || Number.isNaN(limits.hard) ? undefined : limits;
  } catch {
    return undefined;
  }
}

/** YAML scalar (a JSON string is a YAML string). */
function yaml(value: string): string {
  return JSON.stringify(value);
}

/**
 * As root, ejabberd runs as the Debian package's `ejabberd` user (it owns nothing of ours, and
 * a root beam would write root-owned files into the dir). Not root: run it as ourselves.
 */
function ejabberdRunAs(): UnixUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = process.env.EJABBERD_USER ?? 'ejabberd';
  const user = lookupUnixUser(name);
  if (!user) {
    throw new Error(
      `startEjabberd: running as root but there is no '${name}' user (apt-get install ejabberd creates it)`,
    );
  }
  return user;
}

function buildConfig(o: {
  port: number;
  domain: string;
  mucDomain: string;
  tls: boolean;
  pemPath?: string;
  logLevel: string;
  stanzaSizeLimit: number;
  maxRoomOccupants: number;
  maxAckQueue: number;
  extraConfig?: string;
  roomPresence: RoomPresence;
  roomJidsPublic: boolean;
  mucAdmins: string[];
}): string {
  const lines = [
    '# Generated by test/harness/ejabberd.ts: a throwaway server for tests and benchmarks.',
    `loglevel: ${o.logLevel}`,
    'log_rotate_count: 0',
    'hosts:',
    `  - ${yaml(o.domain)}`,
  ];
  if (o.pemPath) lines.push('certfiles:', `  - ${yaml(o.pemPath)}`);
  lines.push(
    'listen:',
    '  -',
    `    port: ${o.port}`,
    '    ip: "127.0.0.1"',
    '    module: ejabberd_c2s',
    `    max_stanza_size: ${Math.trunc(o.stanzaSizeLimit)}`,
    '    shaper: c2s_shaper',
    '    access: c2s',
    `    starttls_required: ${o.tls ? 'true' : 'false'}`,
    `    max_fsm_queue: ${Math.max(10_000, o.maxAckQueue)}`,
    'disable_sasl_mechanisms:',
    '  - "digest-md5"',
    '  - "X-OAUTH2"',
    'auth_method: internal',
    'auth_password_format: scram',
    's2s_access: none',
    'acl:',
    '  local:',
    '    user_regexp: ""',
    ...(o.mucAdmins.length > 0
      ? ['  muc_admins:', '    user:', ...o.mucAdmins.map((jid) => `      - ${yaml(jid)}`)]
      : []),
    'access_rules:',
    '  local:',
    '    allow: local',
    '  c2s:',
    '    allow: all',
    '  muc_create:',
    '    allow: local',
    '  muc_admin:',
    o.mucAdmins.length > 0 ? '    allow: muc_admins' : '    deny: all',
    'api_permissions:',
    '  "console commands":',
    '    from:',
    '      - ejabberd_ctl',
    '    who: all',
    '    what: "*"',
    'shaper_rules:',
    '  max_user_sessions: 100',
    '  c2s_shaper: none',
    '  s2s_shaper: none',
    'modules:',
    '  mod_admin_extra: {}',
    '  mod_disco: {}',
    '  mod_ping: {}',
    '  mod_roster: {}',
    '  mod_version: {}',
    '  mod_stream_mgmt:',
    `    max_ack_queue: ${Math.trunc(o.maxAckQueue)}`,
    '  mod_muc:',
    `    host: ${yaml(o.mucDomain)}`,
    '    access:',
    '      - allow',
    '    access_create: muc_create',
    '    access_admin: muc_admin',
    '    access_persistent: muc_create',
    '    history_size: 0',
    `    max_users: ${Math.trunc(o.maxRoomOccupants)}`,
    `    max_users_presence: ${Math.trunc(o.maxRoomOccupants)}`,
    '    default_room_options:',
    '      persistent: false',
    '      public: true',
    '      mam: false',
    `      max_users: ${Math.trunc(o.maxRoomOccupants)}`,
    ...(o.roomJidsPublic ? ['      anonymous: false'] : []),
    ...(o.roomPresence === 'moderators'
      ? ['      presence_broadcast:', '        - moderator']
      : []),
  );
  if (o.extraConfig) lines.push('', o.extraConfig);
  lines.push('');
  return lines.join('\n');
}

/**
 * Scheduler thread stacks of 32 MiB (4096 kilowords; the default is 1 MiB): fast_xml 1.1.49's
 * C code serialises an element recursively, and an element about 4,000 levels deep (28 KB, sent
 * by any account to anyone online) overflowed the default stack and killed the whole node with
 * SIGSEGV. With these, the deepest element max_stanza_size lets through (about 37,000 levels in
 * 256 KiB) is serialised safely. docs/scaling.md tells deployments to do the same.
 */
export const DEEP_XML_GUARD = ['+sss', '4096', '+sssdcpu', '4096', '+sssdio', '4096'];

let uniqueCounter = 0;

/**
 * Starts a private ejabberd on a free loopback port in a fresh temp dir, registers the users and
 * waits until a real SCRAM login succeeds.
 */
export async function startEjabberd(options: EjabberdOptions = {}): Promise<EjabberdServer> {
  const domain = options.domain ?? 'localhost';
  const mucDomain = options.mucDomain ?? `conference.${domain}`;
  const useTls = options.tls ?? false;
  const runAs = ejabberdRunAs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-ejabberd-'));
  fs.chmodSync(dir, 0o755);
  const spoolDir = path.join(dir, 'spool');
  fs.mkdirSync(spoolDir);
  fs.mkdirSync(path.join(dir, 'certs'));
  fs.mkdirSync(path.join(dir, 'logs'));
  const configPath = path.join(dir, 'ejabberd.yml');
  const logPath = path.join(dir, 'logs', 'ejabberd.log');
  // Erlang reads the cookie from $HOME/.erlang.cookie and insists on mode 0400.
  const cookiePath = path.join(dir, '.erlang.cookie');
  const cookie = options.erlangCookie ?? crypto.randomBytes(18).toString('hex');
  fs.writeFileSync(cookiePath, cookie, { mode: 0o400 });

  let cert: { certPath: string; keyPath: string; fingerprint256: string } | undefined;
  let pemPath: string | undefined;
  if (useTls) {
    cert = await generateCertificate(dir, domain, [mucDomain]);
    pemPath = path.join(dir, 'certs', `${domain}.pem`);
    const pem = fs.readFileSync(cert.certPath, 'utf8') + fs.readFileSync(cert.keyPath, 'utf8');
    fs.writeFileSync(pemPath, pem, { mode: 0o600 });
  }

  const port = await freePort();
  uniqueCounter += 1;
  const suffix = `${process.pid}-${uniqueCounter}-${crypto.randomBytes(3).toString('hex')}`;
  const nodeName = `copilot-ejabberd-${suffix}@127.0.0.1`;
  fs.writeFileSync(
    configPath,
    buildConfig({
      port,
      domain,
      mucDomain,
      tls: useTls,
      pemPath,
      logLevel: options.logLevel ?? 'info',
      stanzaSizeLimit: options.stanzaSizeLimit ?? 262_144,
      maxRoomOccupants: options.maxRoomOccupants ?? 100_000,
      maxAckQueue: options.maxAckQueue ?? 100_000,
      extraConfig: options.extraConfig,
      roomPresence: options.roomPresence ?? 'all',
      roomJidsPublic: options.roomJidsPublic ?? false,
      mucAdmins: adminJids(options.mucAdmins, domain),
    }),
  );
  chownTree(dir, runAs);

  // The soft limit goes up to the hard one, which needs no privilege (a container may deny more).
  const limits = openFileLimits();
  const openFiles = Math.min(WANTED_OPEN_FILES, limits?.hard ?? WANTED_OPEN_FILES);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(options.epmdPort === undefined ? {} : { ERL_EPMD_PORT: String(options.epmdPort) }),
    HOME: dir,
    ERL_LIBS,
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ERL_MAX_PORTS: String(openFiles),
    EJABBERD_CONFIG_PATH: configPath,
    EJABBERD_LOG_PATH: logPath,
    ERL_CRASH_DUMP: path.join(dir, 'logs', 'erl_crash.dump'),
  };
  // Alone: no epmd, this node listens for ejabberd_ctl on a free port, on loopback only. In a
  // cluster: the cluster's private epmd (ERL_EPMD_PORT) tells the nodes each other's ports.
  const distArgs =
    options.epmdPort === undefined
      ? ['-erl_epmd_port', String(await freePort()), '-start_epmd', 'false']
      : ['-start_epmd', 'false'];

  let ctlCounter = 0;
  const ctl = async (args: readonly string[]): Promise<string> => {
    ctlCounter += 1;
    const ctlNode = `ctl-${suffix}-${ctlCounter}@127.0.0.1`;
    const [command, argv] = asUser(runAs, 'erl', [
      '-name',
      ctlNode,
      '-hidden',
      '-noinput',
      ...distArgs,
      '-dist_listen',
      'false',
      '-s',
      'ejabberd_ctl',
      '-extra',
      nodeName,
      ...args,
    ]);
    const { stdout } = await runCommand(command, argv, { cwd: dir, env, timeoutMs: 30_000 });
    return stdout;
  };
  // Mnesia's transaction log (disk_log) holds writes in a cache it flushes within 2 s: an
  // account registered just before a kill -9 would be gone after restart. kill9() waits that out.
  let lastWriteAt = 0;
  const registerUser = async (username: string, password: string): Promise<void> => {
    await ctl(['register', username, domain, password]);
    lastWriteAt = Date.now();
  };
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

  const probe: XmppUser = options.probeUser ?? {
    username: `harness-probe-${suffix}`,
    password: crypto.randomBytes(12).toString('hex'),
  };
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
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;

  /** The first account until its table exists, then the others. */
  const registerOnceReady = async (
    [first, ...others]: XmppUser[],
    signal: AbortSignal,
  ): Promise<void> => {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      try {
        if (first) await registerUser(first.username, first.password);
        break;
      } catch (error) {
        const early = /no_exists/.test(String(error));
        if (!early || Date.now() > deadline || signal.aborted) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    await registerUsers(others);
  };

  const launch = (firstStart: boolean): Promise<ServiceProcess> => {
    const erlArgs = [
      '-name',
      nodeName,
      '-noinput',
      '+K',
      'true',
      '+P',
      '1000000',
      ...(options.deepXmlGuard === false ? [] : DEEP_XML_GUARD),
      ...distArgs,
      '-kernel',
      'inet_dist_use_interface',
      '{127,0,0,1}',
      '-mnesia',
      'dir',
      JSON.stringify(spoolDir),
      '-s',
      'ejabberd',
    ];
    let [command, argv] = asUser(runAs, 'erl', erlArgs);
    // prlimit execs, as setpriv and erl do: the pid we hold is beam's, and kill9() kills it.
    if (limits && limits.soft < openFiles) {
      argv = [`--nofile=${openFiles}:${limits.hard}`, '--', command, ...argv];
      command = 'prlimit';
    }
    return startProcess({
      name: 'ejabberd',
      command,
      args: argv,
      cwd: dir,
      env,
      readyTimeoutMs,
      ready: async (_proc, signal) => {
        await waitForPort(port, '127.0.0.1', readyTimeoutMs, { signal });
        // Accounts live in Mnesia: they can only be added once the node runs, and the port may
        // answer before the modules have made their tables ({no_exists,passwd,…}): retried.
        if (firstStart) await registerOnceReady([probe, ...(options.users ?? [])], signal);
        // While Mnesia loads its tables after a restart, ejabberd may refuse a good password
        // (not-authorized) for a moment: retry until the deadline.
        const deadline = Date.now() + readyTimeoutMs;
        for (;;) {
          try {
            const session = await connectXmpp(info, probe, { timeoutMs: 15_000 });
            await session.stop();
            return;
          } catch (error) {
            if (Date.now() > deadline || signal.aborted) throw error;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      },
    });
  };

  let current = await launch(true);
  let stopped = false;

  const server: EjabberdServer = {
    kind: 'ejabberd',
    ...info,
    dir,
    configPath,
    logPath,
    nodeName,
    get process() {
      return current;
    },
    jid: (username) => `${username}@${domain}`,
    ctl,
    registerUser,
    registerUsers,
    unregisterUser: async (username) => {
      await ctl(['unregister', username, domain]);
      lastWriteAt = Date.now();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await current.stop(10_000);
      try {
        fs.copyFileSync(
          logPath,
          path.join(logsDir(), `ejabberd-${port}-${current.pid}.server.log`),
        );
      } catch {
        // no log written
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async kill9() {
      const flushed = lastWriteAt + MNESIA_LOG_FLUSH_MS - Date.now();
      if (flushed > 0) await new Promise((resolve) => setTimeout(resolve, flushed));
      await current.kill9();
    },
    async restart() {
      if (stopped) throw new Error('EjabberdServer.restart() after stop()');
      await current.stop(10_000);
      current = await launch(false);
    },
  };
  return server;
}
