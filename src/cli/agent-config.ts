/**
 * The headless agent's configuration (report 4.3.2): `VARIABLE_NAME VALUE` lines, `#` comments,
 * overridden by environment variables of the same name and `--VARIABLE_NAME=value` arguments.
 * Parsing is src/protocol/config-file.ts; this file knows the agent's variables.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentSettings } from '../contract/ui-contract';
import { validateSettingsPatch } from '../contract/settings';
import { keysWhere } from '../contract/settings-derive';
import { SETTINGS_SPEC } from '../contract/settings-spec';
import {
  ConfigError,
  ConfigValues,
  parseConfigArgs,
  parseConfigText,
} from '../protocol/config-file';
import { wireFormatFromConfig, type WireFormatOptions } from '../protocol/wire-format';
import { writeFileAtomic } from '../base/write-atomic';
import { LOG_LEVELS, type LogLevel } from '../base/log-level';
import { readConfigSettings, settingVariable } from './settings-from-config';
import { errorMessage } from '../base/errors';
import { mapSpec } from '../contract/settings-derive';
import { readProjectFile } from './attached-project';

export { ConfigError } from '../protocol/config-file';

export const DEFAULT_CONFIG_PATH = '/etc/copilot/copilot-agent.conf';

export interface AgentConfig {
  configPath: string | undefined;
  settings: AgentSettings;
  workDir: string;
  monitorAddress: string | undefined;
  jobImage: string;
  wallClockLimitSeconds: number;
  guiRpcPort: number | undefined;
  guiRpcHost: string;
  resource: string | undefined;
  logLevel: LogLevel;
  /** AGENT_WIRE_FORMAT, AGENT_WIRE_FORMAT_NEW_PEERS: which form of 2.1 goes to whom. */
  wireFormat: WireFormatOptions;
  /** Any configuration variable, e.g. AGENT_GUI_STATIC_DIR. */
  variable: (name: string) => string | undefined;
}

export interface LoadAgentConfigOptions {
  argv: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  readFile?: (file: string) => string;
  /**
   * With no project at all (none of its variables set, no project.conf in the work dir) and a
   * GUI RPC port, start without one, waiting for an attach link from the first-run screen.
   */
  allowUnattached?: boolean;
}

/** The variables that say which project the agent is in: none set means none attached. */
const PROJECT_VARIABLES = [
  'JM_JABBER_ADDRESS',
  'AGENT_JABBER_SERVER',
  'AGENT_JABBER_ID',
  'AGENT_JABBER_PASSWORD',
] as const;

/** The settings spec without its required variables: an agent waiting to be attached. */
const UNATTACHED_SPEC = mapSpec(SETTINGS_SPEC, (entry) =>
  'config' in entry && entry.config !== undefined
    ? { ...entry, config: { variable: entry.config.variable } }
    : entry,
);

/** The config file's values, with the attached project's (AGENT_WORK_DIR/project.conf) over them. */
function withAttachedProject(
  file: Map<string, string>,
  env: Readonly<Record<string, string | undefined>>,
  overrides: Map<string, string>,
): Map<string, string> {
  const workDir =
    overrides.get('AGENT_WORK_DIR') ?? env.AGENT_WORK_DIR ?? file.get('AGENT_WORK_DIR');
  if (workDir === undefined || workDir === '') return file;
  const project = readProjectFile(path.resolve(workDir));
  return project === undefined ? file : new Map([...file, ...project]);
}

/** Reads and checks the configuration. Throws ConfigError naming the variable at fault. */
export function loadAgentConfig(options: LoadAgentConfigOptions): AgentConfig {
  const env = options.env ?? process.env;
  const readFile = options.readFile ?? ((file: string) => fs.readFileSync(file, 'utf8'));
  const args = parseConfigArgs(options.argv);
  const configPath =
    args.configPath ??
    env.COPILOT_AGENT_CONFIG ??
    (fs.existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  let file = new Map<string, string>();
  if (configPath !== undefined) {
    let text: string;
    try {
      text = readFile(configPath);
    } catch (error) {
      throw new ConfigError(`cannot read the config file ${configPath}: ${errorMessage(error)}`);
    }
    file = parseConfigText(text, configPath);
  }
  file = withAttachedProject(file, env, args.overrides);
  const values = ConfigValues.from({ file, env, overrides: args.overrides });
  const unattached =
    options.allowUnattached === true &&
    values.optional('AGENT_GUI_RPC_PORT') !== undefined &&
    PROJECT_VARIABLES.every((variable) => values.optional(variable) === undefined);

  const read = readConfigSettings(
    values,
    readFile,
    unattached ? UNATTACHED_SPEC : SETTINGS_SPEC,
  ) as AgentSettings;
  let { xmppUsername: username, xmppDomain: domain } = read;
  if (username.includes('@')) {
    const [local = '', host = ''] = username.split('@');
    if (domain !== '' && host.split('/')[0] !== domain) {
      throw new ConfigError(
        `AGENT_JABBER_ID ${username} is not in AGENT_JABBER_DOMAIN ${domain}`,
        'AGENT_JABBER_ID',
      );
    }
    username = local;
    domain = host.split('/')[0] ?? '';
  }
  if (domain === '' && !unattached)
    throw new ConfigError('AGENT_JABBER_DOMAIN must be set', 'AGENT_JABBER_DOMAIN');

  const settings: AgentSettings = { ...read, xmppUsername: username, xmppDomain: domain };
  const errors = validateSettingsPatch(settings);
  const [first] = errors;
  if (first) {
    const variable = settingVariable(first.field);
    throw new ConfigError(`${variable}: ${first.message}`, variable);
  }
  if (settings.secureMode && settings.jobManagerPublicKey === '') {
    throw new ConfigError(
      'JM_PUBLIC_KEY must name the job manager key in secure mode',
      'JM_PUBLIC_KEY',
    );
  }
  if ((settings.heartbeatChatServer === '') !== (settings.heartbeatChatRoom === '')) {
    throw new ConfigError('HB_CHAT_SERVER and HB_CHAT_ROOM must be set together', 'HB_CHAT_ROOM');
  }

  const workDir = path.resolve(values.required('AGENT_WORK_DIR', 'a writeable directory'));
  const port = values.optional('AGENT_GUI_RPC_PORT');
  const logLevel = values.choice('AGENT_LOG_LEVEL', LOG_LEVELS, 'info');
  return {
    configPath,
    settings,
    workDir,
    monitorAddress: values.optional('MON_JABBER_ADDRESS'),
    jobImage: values.string('AGENT_JOB_IMAGE', 'copilot-job:latest'),
    wallClockLimitSeconds: values.integer('AGENT_WALL_CLOCK_LIMIT_SECONDS', 24 * 3600, {
      min: 1,
      max: 30 * 24 * 3600,
    }),
    guiRpcPort:
      port === undefined
        ? undefined
        : values.integer('AGENT_GUI_RPC_PORT', 0, { min: 1, max: 65535 }),
    guiRpcHost: values.string('AGENT_GUI_RPC_HOST', '127.0.0.1'),
    resource: values.optional('AGENT_JABBER_RESOURCE'),
    logLevel,
    wireFormat: wireFormatFromConfig(values, 'AGENT'),
    variable: (name) => values.optional(name),
  };
}

/** Settings changed over the GUI RPC are kept here and win over the config file's. */
export function settingsOverlayPath(workDir: string): string {
  return path.join(workDir, 'agent-settings.json');
}

/** Fields the GUI may change for a headless agent, kept in the overlay (the spec's 'overlay'). */
const OVERLAY_FIELDS = keysWhere(
  SETTINGS_SPEC,
  (entry) => entry.headless === 'overlay',
) as ReadonlyArray<keyof AgentSettings>;

export function applySettingsOverlay(settings: AgentSettings, workDir: string): AgentSettings {
  let raw: string;
  try {
    raw = fs.readFileSync(settingsOverlayPath(workDir), 'utf8');
  } catch {
    return settings;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Unreadable like an invalid one: the config file's settings stand.
    return settings;
  }
  if (typeof parsed !== 'object' || parsed === null) return settings;
  const stored = parsed as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const field of OVERLAY_FIELDS) if (field in stored) patch[field] = stored[field];
  if (validateSettingsPatch(patch).length > 0) return settings;
  return { ...settings, ...(patch as Partial<AgentSettings>) };
}

export function saveSettingsOverlay(settings: AgentSettings, workDir: string): void {
  const overlay: Record<string, unknown> = {};
  for (const field of OVERLAY_FIELDS) overlay[field] = settings[field];
  fs.mkdirSync(workDir, { recursive: true });
  writeFileAtomic(settingsOverlayPath(workDir), JSON.stringify(overlay, null, 2) + '\n', 0o600);
}
