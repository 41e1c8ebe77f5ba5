/**
 * The Generic Job and Storage Manager's configuration. Variables of the report (4.2.2) plus ours:
 *
 * | Variable | Meaning | Default |
 * |---|---|---|
 * | JM_JABBER_SERVER | XMPP server: `host`, `host:port` or `xmpp://host:port` | required |
 * | JM_JABBER_DOMAIN | XMPP domain | required |
 * | JM_JABBER_ID | user name (or `user@domain`) of the manager | required |
 * | JM_JABBER_PASSWORD | its password | required |
 * | JM_JABBER_RESOURCE | XMPP resource; also the `<resource>` of the monitor component name | `jobmanager` |
 * | JM_DONE_JOB_DIR | where finished jobs land (`<id>/<id>.tgz`, `<id>/stdout`, `<id>/stderr`) | `<state>/done` |
 * | JM_REDIS_SERVER | `host[:port]` or `redis://…`; selects the Redis queue | unset: SQLite |
 * | JM_WAITING_JOBS_LIST | Redis list of queued job ids | `waiting-jobs` |
 * | JM_JOB_REQUIRE_FILE | file the agent must have (have_getJob requireFile) | unset |
 * | MON_JABBER_ADDRESS | JID of the Monitor; events are sent when set | unset |
 * | HB_CHAT_SERVER, HB_CHAT_ROOM | Heartbeat MUC (read and exposed for the heartbeat plug-in) | unset |
 * | JM_CHIRP_SERVER | Chirp storage: the `host[:port]` agents connect to (chirp_server, listing 4.1); with JM_CHIRP_WORK_DIR it replaces HTTP storage | unset: HTTP |
 * | JM_CHIRP_WORK_DIR | the directory chirp_server exports (`-r`); the manager writes job dirs and ACLs there | with JM_CHIRP_SERVER |
 * | JM_CHIRP_ORIGINAL_AGENTS | also accept the original Perl agent, which uploads to `/<jobID>/<jobID>.tgz` whatever outputDir says: output dirs are then named after the job id | `false` |
 * | JM_STATE_DIR | state dir: queue DB, job storage, done jobs | `./copilot-jm-state` |
 * | JM_QUEUE_DB | SQLite queue file | `<state>/queue.sqlite` |
 * | JM_STORAGE_DIR | job input/output files | `<state>/storage` |
 * | JM_STORAGE_PORT | port of the HTTP storage server (0 = any free port) | `8088` |
 * | JM_STORAGE_BIND | address the storage server binds | `0.0.0.0` |
 * | JM_STORAGE_URL | storage base URL advertised to agents | `http://<bound address>:<port>` |
 * | JM_LEASE_SECONDS | lease of a job handed to an agent, renewed by its activity | `21600` |
 * | JM_MAX_ATTEMPTS | leases of one job before it is failed instead of requeued | `5` |
 * | JM_MAX_UPLOAD_MB | largest single uploaded output file | `1024` |
 * | JM_MAX_JOB_MB | largest total output of one job | `4096` |
 * | JM_STORAGE_MAX_CONNECTIONS_PER_CLIENT | HTTP storage connections one address may hold at once (more get 503) | `256` |
 * | JM_STORAGE_MANAGER_ADDRESS | JID of a storage manager: output and jobDone are redirected to it | unset |
 * | JM_ROLE | `all` (jobs and storage), `job`, or `storage` (output + jobDone only) | `all` |
 * | JM_REQUEST_COOLDOWN | seconds an account must wait after a served want_getJob; sooner it gets `sleep` (0 = off) | `0` |
 * | JM_BANNED_FILE | file of banned accounts (`user@domain`) and domains (`*@domain`, `domain`), one a line, re-read when it changes | unset |
 * | JM_MAX_LEASES_PER_AGENT | active leases one account may hold; beyond it getJob gets no job (0 = no cap) | `16` |
 * | JM_OWNER_SHARES | fair share: each owner's share, `alice=3 bob=1`; a bare number is every other owner's (owner-policy.ts) | `1` |
 * | JM_OWNER_MAX_QUEUED | queued jobs per owner, more refused at submission (0 = no cap), `1000 alice=5000` | `0` |
 * | JM_OWNER_MAX_RUNNING | active jobs per owner; at the cap its jobs wait (0 = no cap), `50 bob=10` | `0` |
 * | JM_FAIR_SHARE_HALF_LIFE | seconds after which a lease counts half in its owner's usage | `86400` |
 * | JM_WIRE_FORMAT | form of the message layer (README, protocol): `auto` (each peer in the form it sends), `report`, `namespaced`, `both` | `auto` |
 * | JM_WIRE_FORMAT_NEW_PEERS | what `auto` sends a peer not heard from: `both`, `report`, `namespaced` | `both` |
 *
 * Sources, later wins: the config file (`--config path`, else
 * /etc/copilot/copilot-jobmanager-generic.conf when it exists), environment variables,
 * `--VARIABLE=value` arguments.
 */
import path from 'node:path';
import {
  ConfigError,
  ConfigValues,
  StorageAddressError,
  parseConfigArgs,
  parseStorageAddress,
  wireFormatFromConfig,
  type WireFormatOptions,
} from '@copilot/protocol';
import { xmppServiceUrl } from '@copilot/transport/xmpp-service';
import { readConfigFile } from '@copilot/protocol/config-file-source';
import { ownerPolicyFromValues, type OwnerPolicy } from './owner-policy';

export const DEFAULT_CONFIG_PATH = '/etc/copilot/copilot-jobmanager-generic.conf';

export type ManagerRole = 'all' | 'job' | 'storage';

/** Chirp storage (report 4.1.2, 4.2.2): agents fetch and upload through chirp_server. */
export interface ChirpStorageConfig {
  /** JM_CHIRP_SERVER as agents get it in chirpUrl and outputChirpUrl, e.g. `jm.cern.ch:9094`. */
  server: string;
  /** JM_CHIRP_WORK_DIR, absolute: the directory chirp_server exports. */
  workDir: string;
  /** JM_CHIRP_ORIGINAL_AGENTS: output dirs at `/<jobId>`, where the original agent uploads. */
  originalAgents: boolean;
}

export interface JobManagerConfig {
  xmpp: {
    /** e.g. `xmpp://127.0.0.1:5222` */
    service: string;
    domain: string;
    username: string;
    password: string;
    resource: string;
    /** JM_WIRE_FORMAT, JM_WIRE_FORMAT_NEW_PEERS */
    wireFormat: WireFormatOptions;
  };
  role: ManagerRole;
  stateDir: string;
  queueDb: string;
  storageDir: string;
  doneJobDir: string;
  redisServer?: string;
  waitingJobsList: string;
  /** JM_OWNER_SHARES, JM_OWNER_MAX_QUEUED, JM_OWNER_MAX_RUNNING, JM_FAIR_SHARE_HALF_LIFE. */
  owners: OwnerPolicy;
  requireFile?: string;
  monitorAddress?: string;
  heartbeat?: { chatServer: string; chatRoom: string };
  chirp?: ChirpStorageConfig;
  storagePort: number;
  storageBind: string;
  storageUrl?: string;
  leaseMs: number;
  maxAttempts: number;
  maxUploadBytes: number;
  maxJobBytes: number;
  /** JM_STORAGE_MAX_CONNECTIONS_PER_CLIENT */
  maxConnectionsPerClient: number;
  storageManagerAddress?: string;
  /** JM_REQUEST_COOLDOWN in ms; 0 = off. */
  requestCooldownMs: number;
  /** JM_BANNED_FILE, absolute. */
  bannedFile?: string;
  /** JM_MAX_LEASES_PER_AGENT; 0 = no cap. */
  maxLeasesPerAgent: number;
}

const MB = 1024 * 1024;

/** Turns JM_JABBER_SERVER into an @xmpp/client service URL. */
export function xmppService(server: string): string {
  try {
    return xmppServiceUrl(server);
  } catch {
    throw new ConfigError(`JM_JABBER_SERVER is not a host[:port]: ${server}`, 'JM_JABBER_SERVER');
  }
}

/** The store settings the CLIs need (no XMPP). */
export type StoreConfig = Pick<
  JobManagerConfig,
  | 'stateDir'
  | 'queueDb'
  | 'storageDir'
  | 'doneJobDir'
  | 'redisServer'
  | 'waitingJobsList'
  | 'owners'
>;

export function storeConfigFromValues(values: ConfigValues, cwd = process.cwd()): StoreConfig {
  const stateDir = path.resolve(cwd, values.string('JM_STATE_DIR', 'copilot-jm-state'));
  const config: StoreConfig = {
    stateDir,
    queueDb: path.resolve(stateDir, values.string('JM_QUEUE_DB', 'queue.sqlite')),
    storageDir: path.resolve(stateDir, values.string('JM_STORAGE_DIR', 'storage')),
    doneJobDir: path.resolve(stateDir, values.string('JM_DONE_JOB_DIR', 'done')),
    waitingJobsList: values.string('JM_WAITING_JOBS_LIST', 'waiting-jobs'),
    owners: ownerPolicyFromValues(values),
  };
  const redisServer = values.optional('JM_REDIS_SERVER');
  if (redisServer !== undefined) config.redisServer = redisServer;
  return config;
}

/** JM_CHIRP_SERVER and JM_CHIRP_WORK_DIR, set together, select Chirp storage. */
function chirpConfigFromValues(values: ConfigValues, cwd: string): ChirpStorageConfig | undefined {
  const server = values.optional('JM_CHIRP_SERVER');
  const workDir = values.optional('JM_CHIRP_WORK_DIR');
  if (server === undefined && workDir === undefined) return undefined;
  if (server === undefined || workDir === undefined) {
    throw new ConfigError(
      'JM_CHIRP_SERVER and JM_CHIRP_WORK_DIR must be set together',
      server === undefined ? 'JM_CHIRP_SERVER' : 'JM_CHIRP_WORK_DIR',
    );
  }
  try {
    if (parseStorageAddress(server, '/').kind !== 'chirp') throw new StorageAddressError(server);
  } catch (error) {
    if (!(error instanceof StorageAddressError)) throw error;
    throw new ConfigError(`JM_CHIRP_SERVER must be host[:port], not ${server}`, 'JM_CHIRP_SERVER');
  }
  return {
    server,
    workDir: path.resolve(cwd, workDir),
    originalAgents: values.boolean('JM_CHIRP_ORIGINAL_AGENTS', false),
  };
}

export function configFromValues(values: ConfigValues, cwd = process.cwd()): JobManagerConfig {
  const domain = values.required('JM_JABBER_DOMAIN', 'the XMPP domain');
  let username = values.required('JM_JABBER_ID', 'the Jabber ID of the Job Manager');
  if (username.includes('@')) {
    const [user, host] = username.split('@');
    if (!user || host !== domain) {
      throw new ConfigError(
        `JM_JABBER_ID ${username} is not in JM_JABBER_DOMAIN ${domain}`,
        'JM_JABBER_ID',
      );
    }
    username = user;
  }
  const store = storeConfigFromValues(values, cwd);
  const chatServer = values.optional('HB_CHAT_SERVER');
  const chatRoom = values.optional('HB_CHAT_ROOM');
  const storageUrl = values.optional('JM_STORAGE_URL');
  if (storageUrl !== undefined && !/^https?:\/\/[^/]+/.test(storageUrl)) {
    throw new ConfigError(
      `JM_STORAGE_URL must be an http(s) URL, not ${storageUrl}`,
      'JM_STORAGE_URL',
    );
  }
  const config: JobManagerConfig = {
    xmpp: {
      service: xmppService(values.required('JM_JABBER_SERVER', 'the XMPP server address')),
      domain,
      username,
      password: values.required('JM_JABBER_PASSWORD'),
      resource: values.string('JM_JABBER_RESOURCE', 'jobmanager'),
      wireFormat: wireFormatFromConfig(values, 'JM'),
    },
    role: values.choice('JM_ROLE', ['all', 'job', 'storage'] as const, 'all'),
    ...store,
    storagePort: values.integer('JM_STORAGE_PORT', 8088, { min: 0, max: 65535 }),
    storageBind: values.string('JM_STORAGE_BIND', '0.0.0.0'),
    leaseMs: Math.round(values.number('JM_LEASE_SECONDS', 6 * 3600, { min: 0.1 }) * 1000),
    maxAttempts: values.integer('JM_MAX_ATTEMPTS', 5, { min: 1 }),
    maxUploadBytes: Math.round(values.number('JM_MAX_UPLOAD_MB', 1024, { min: 0 }) * MB),
    maxJobBytes: Math.round(values.number('JM_MAX_JOB_MB', 4096, { min: 0 }) * MB),
    maxConnectionsPerClient: values.integer('JM_STORAGE_MAX_CONNECTIONS_PER_CLIENT', 256, {
      min: 1,
    }),
    requestCooldownMs: Math.round(values.number('JM_REQUEST_COOLDOWN', 0, { min: 0 }) * 1000),
    maxLeasesPerAgent: values.integer('JM_MAX_LEASES_PER_AGENT', 16, { min: 0 }),
  };
  const bannedFile = values.optional('JM_BANNED_FILE');
  if (bannedFile !== undefined) config.bannedFile = path.resolve(cwd, bannedFile);
  const optional = {
    requireFile: values.optional('JM_JOB_REQUIRE_FILE'),
    monitorAddress: values.optional('MON_JABBER_ADDRESS'),
    storageUrl: storageUrl?.replace(/\/+$/, ''),
    storageManagerAddress: values.optional('JM_STORAGE_MANAGER_ADDRESS'),
  };
  for (const [name, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(config, { [name]: value });
  }
  if ((chatServer === undefined) !== (chatRoom === undefined)) {
    throw new ConfigError(
      'HB_CHAT_SERVER and HB_CHAT_ROOM must be set together',
      chatServer ? 'HB_CHAT_ROOM' : 'HB_CHAT_SERVER',
    );
  }
  if (chatServer !== undefined && chatRoom !== undefined)
    config.heartbeat = { chatServer, chatRoom };
  const chirp = chirpConfigFromValues(values, cwd);
  if (chirp !== undefined) config.chirp = chirp;
  if (config.role === 'storage' && config.storageManagerAddress !== undefined) {
    throw new ConfigError(
      'a storage manager (JM_ROLE storage) cannot redirect to another one',
      'JM_STORAGE_MANAGER_ADDRESS',
    );
  }
  return config;
}

export interface LoadedConfigValues {
  values: ConfigValues;
  /** Non-variable options such as `--role storage`. */
  options: Map<string, string>;
  /** Every option in order, repeats included. */
  all: Array<[string, string]>;
  positional: string[];
  configPath: string | undefined;
}

/**
 * Reads argv (`--config path`, `--VAR=value`, other options), the environment and the config
 * file. The file named by --config must exist; the default path is read only when present.
 */
export function loadConfigValues(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  flags: readonly string[] = [],
): LoadedConfigValues {
  const args = parseConfigArgs(argv, flags);
  const { file, configPath } = readConfigFile(
    args.configPath ?? env.COPILOT_JM_CONFIG,
    DEFAULT_CONFIG_PATH,
  );
  const overrides = new Map(args.overrides);
  const role = args.options.get('role');
  if (role !== undefined) overrides.set('JM_ROLE', role);
  return {
    values: ConfigValues.from({ file, env, overrides }),
    options: args.options,
    all: args.all,
    positional: args.positional,
    configPath,
  };
}

export function loadJobManagerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): JobManagerConfig {
  return configFromValues(loadConfigValues(argv, env).values);
}
