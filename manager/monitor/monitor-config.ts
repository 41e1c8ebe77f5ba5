import { ConfigError, ConfigValues, parseConfigArgs } from '@copilot/protocol';
import { readConfigFile } from '@copilot/protocol/config-file-source';
import { DEFAULT_MAX_SERIES } from './event-aggregator';
import { parseSenderPattern, splitSenderList } from './sender-allow-list';

export const DEFAULT_MONITOR_CONFIG_PATH = '/etc/copilot/copilot-monitor.conf';

/** Everything copilot-monitor needs, from its configuration (4.4.2 plus our MON_* additions). */
export interface MonitorConfig {
  jabber: { server: string; domain: string; id: string; password: string };
  carbon: { host: string; port: number };
  /** MON_SAMPLE_SECONDS: how often counts and durations are rolled up and sent (default 5). */
  sampleSeconds: number;
  /** MON_HTTP_PORT (default 8000, 0 = any free port) and MON_HTTP_HOST (default 127.0.0.1). */
  http: { host: string; port: number };
  /** MON_CHAT_SERVER / MON_CHAT_ROOM (falling back to HB_CHAT_*): the Heartbeat room to watch. */
  chat?: { server: string; room: string };
  /** MON_POLL_SECONDS: how often room members are asked for their load (default 10). */
  pollSeconds: number;
  /** MON_CARBON_BUFFER_LINES: lines kept while Carbon is down (default 100000). */
  carbonBufferLines: number;
  /**
   * MON_ALLOWED_SENDERS: full JIDs, bare JIDs and `*@domain` whose reports are accepted. Unset,
   * the reporting accounts this configuration names (see reportingAccounts); empty refuses all.
   */
  allowedSenders: readonly string[];
  /** MON_MAX_SERIES: distinct series held; new ones beyond it are dropped (default 5000). */
  maxSeries: number;
  /**
   * The live fleet console (MON_CONSOLE_*): its own XMPP account joins the Heartbeat room; it is
   * the account agents list in AGENT_ADMIN_JIDS. Admin actions need MON_ADMIN_TOKEN_FILE too.
   */
  console?: ConsoleConfig;
  /**
   * MON_ATTACH_LINK_FILE (the `.copilot` file copilot-attach-link --out writes): the dashboard
   * shows the link and its QR code to holders of the admin token (MON_ADMIN_TOKEN_FILE, which it
   * needs: the link carries an invite), with or without the fleet console.
   */
  attachLink?: { file: string; adminTokenFile: string };
}

export interface ConsoleConfig {
  /** MON_CONSOLE_JABBER_ID / _PASSWORD; server and domain default to MON_JABBER_*. */
  jabber: { server: string; domain: string; id: string; password: string };
  /** MON_ADMIN_TOKEN_FILE: the dashboard's admin token; unset, the console is read-only. */
  adminTokenFile?: string;
}

function consoleConfigFrom(config: ConfigValues, hasRoom: boolean): ConsoleConfig | undefined {
  const id = config.optional('MON_CONSOLE_JABBER_ID');
  const tokenFile = config.optional('MON_ADMIN_TOKEN_FILE');
  if (id === undefined) {
    // The token guards the attach link too, which needs no console.
    if (tokenFile !== undefined && config.optional('MON_ATTACH_LINK_FILE') === undefined)
      throw new ConfigError(
        'MON_ADMIN_TOKEN_FILE needs the fleet console: set MON_CONSOLE_JABBER_ID and MON_CONSOLE_JABBER_PASSWORD',
        'MON_ADMIN_TOKEN_FILE',
      );
    return undefined;
  }
  if (!hasRoom)
    throw new ConfigError(
      'MON_CONSOLE_JABBER_ID needs the Heartbeat room: set MON_CHAT_SERVER and MON_CHAT_ROOM (or HB_CHAT_*)',
      'MON_CONSOLE_JABBER_ID',
    );
  const result: ConsoleConfig = {
    jabber: {
      server: config.optional('MON_CONSOLE_JABBER_SERVER') ?? config.required('MON_JABBER_SERVER'),
      domain: config.optional('MON_CONSOLE_JABBER_DOMAIN') ?? config.required('MON_JABBER_DOMAIN'),
      id,
      password: config.required('MON_CONSOLE_JABBER_PASSWORD'),
    },
  };
  if (tokenFile !== undefined) result.adminTokenFile = tokenFile;
  return result;
}

/**
 * Accounts that report to the Monitor, when a shared configuration names them: the manager as
 * agents address it (JM_JABBER_ADDRESS), the manager's own account (JM_JABBER_ID) and the
 * agents' account (AGENT_JABBER_ID). The Monitor's own file (4.4.2) names none of them.
 */
export function reportingAccounts(config: ConfigValues): string[] {
  const accounts = new Set<string>();
  const manager = config.optional('JM_JABBER_ADDRESS');
  if (manager) accounts.add(manager);
  for (const prefix of ['JM', 'AGENT']) {
    const id = config.optional(`${prefix}_JABBER_ID`);
    const domain = config.optional(`${prefix}_JABBER_DOMAIN`);
    if (id?.includes('@')) accounts.add(id);
    else if (id && domain) accounts.add(`${id}@${domain}`);
  }
  return [...accounts];
}

function allowedSendersFrom(config: ConfigValues): string[] {
  const listed = config.optional('MON_ALLOWED_SENDERS');
  const entries = listed === undefined ? reportingAccounts(config) : splitSenderList(listed);
  const invalid = entries.find((entry) => !parseSenderPattern(entry));
  if (invalid !== undefined) {
    const source = listed === undefined ? 'the default from JM_JABBER_*/AGENT_JABBER_*' : 'it';
    throw new ConfigError(
      `MON_ALLOWED_SENDERS: '${invalid}' (in ${source}) is not a full JID, a bare JID or *@domain`,
      'MON_ALLOWED_SENDERS',
    );
  }
  return entries;
}

/** The start-up warning when nobody may report, or undefined. */
export function allowedSendersWarning(config: MonitorConfig): string | undefined {
  if (config.allowedSenders.length > 0) return undefined;
  return (
    'No sender may report: MON_ALLOWED_SENDERS is empty or not set and the configuration names no ' +
    'reporting account, so every reportEvent* is dropped. Set MON_ALLOWED_SENDERS to the JIDs ' +
    'of your Job Managers and agents, e.g. "jmgeneric@xmpp.cern.ch *@agents.xmpp.cern.ch".'
  );
}

export function monitorConfigFrom(config: ConfigValues): MonitorConfig {
  const chatServer = config.optional('MON_CHAT_SERVER') ?? config.optional('HB_CHAT_SERVER');
  const chatRoom = config.optional('MON_CHAT_ROOM') ?? config.optional('HB_CHAT_ROOM');
  const result: MonitorConfig = {
    jabber: {
      server: config.required('MON_JABBER_SERVER'),
      domain: config.required('MON_JABBER_DOMAIN'),
      id: config.required('MON_JABBER_ID'),
      password: config.required('MON_JABBER_PASSWORD'),
    },
    carbon: {
      host: config.string('CARBON_SERVER', '127.0.0.1'),
      port: config.integer('CARBON_PORT', 2003, { min: 1, max: 65535 }),
    },
    sampleSeconds: config.number('MON_SAMPLE_SECONDS', 5, { min: 0.1, max: 3600 }),
    http: {
      host: config.string('MON_HTTP_HOST', '127.0.0.1'),
      port: config.integer('MON_HTTP_PORT', 8000, { min: 0, max: 65535 }),
    },
    pollSeconds: config.number('MON_POLL_SECONDS', 10, { min: 1, max: 3600 }),
    carbonBufferLines: config.integer('MON_CARBON_BUFFER_LINES', 100_000, { min: 1 }),
    allowedSenders: allowedSendersFrom(config),
    maxSeries: config.integer('MON_MAX_SERIES', DEFAULT_MAX_SERIES, { min: 1 }),
  };
  if (chatServer && chatRoom) result.chat = { server: chatServer, room: chatRoom };
  const consoleConfig = consoleConfigFrom(config, result.chat !== undefined);
  if (consoleConfig) result.console = consoleConfig;
  const attachLinkFile = config.optional('MON_ATTACH_LINK_FILE');
  if (attachLinkFile !== undefined) {
    const adminTokenFile = config.optional('MON_ADMIN_TOKEN_FILE');
    if (adminTokenFile === undefined)
      throw new ConfigError(
        'MON_ATTACH_LINK_FILE needs MON_ADMIN_TOKEN_FILE: the link carries an invite, shown only to holders of the admin token',
        'MON_ATTACH_LINK_FILE',
      );
    result.attachLink = { file: attachLinkFile, adminTokenFile };
  }
  return result;
}

/** Reads argv (`--config path`, `--NAME=value`), the environment and the configuration file. */
export function loadMonitorConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { config: MonitorConfig; options: Map<string, string> } {
  const args = parseConfigArgs(argv, ['help', 'verbose']);
  const { file } = readConfigFile(args.configPath, DEFAULT_MONITOR_CONFIG_PATH);
  return {
    config: monitorConfigFrom(ConfigValues.from({ file, env, overrides: args.overrides })),
    options: args.options,
  };
}
