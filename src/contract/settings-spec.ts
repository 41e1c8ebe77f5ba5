/**
 * The one specification of the agent's settings (Fastify's build-validation habit): one entry per
 * setting, from which everything else is derived, in settings.ts and beside it: the AgentSettings
 * type, DEFAULT_SETTINGS, validation, CONNECTION_FIELDS, SECRET_FIELDS, the electron-store schema
 * (src/main/settings-store.ts), the headless agent's config variables (src/cli/agent-config.ts,
 * CONFIG_FILE_FIELDS) and the settings form (src/renderer/views/settings-fields.ts).
 *
 * Adding a setting is one entry here, plus the code that uses it. The entries are in form order.
 */

/** How a text value is checked (src/contract/settings-checks.ts). An empty value always passes. */
export type TextCheck =
  | 'jid-list'
  | 'host-port'
  | 'domain'
  | 'name'
  | 'public-key-pem'
  | 'certificate-pem'
  | 'schedule'
  | 'registry-list';

/** The settings form's groups, in order. */
export const SETTINGS_GROUP_TITLES = {
  project: 'Project',
  computing: 'Computing',
  schedule: 'When to compute',
  heartbeat: 'Heartbeat (optional)',
  security: 'Security',
} as const;
export type SettingsGroupId = keyof typeof SETTINGS_GROUP_TITLES;

/**
 * What the headless agent (copilot-agent) does with a setting changed over the GUI RPC:
 * 'config-file' refuses the change (the config file alone sets it: CONFIG_FILE_FIELDS);
 * 'overlay' takes it and keeps it in agent-settings.json, where it wins over the file;
 * 'unused' takes it, but it means nothing without a desktop.
 */
export type HeadlessUse = 'config-file' | 'overlay' | 'unused';

interface ConfigVariable {
  /** The report-style variable (`NAME value` line, environment variable, `--NAME=value`). */
  variable: string;
  /** The headless agent refuses to start without it; a string is a hint for the error message. */
  required?: true | string;
}

interface FormPlacement {
  group: SettingsGroupId;
  hint?: string;
  unit?: string;
  placeholder?: string;
  /** The field is disabled while this boolean setting is off. */
  enabledBy?: string;
}

interface CommonSpec {
  /** What the form calls the setting (and a number's error messages, unless `errorLabel`). */
  label: string;
  /** Part of the XMPP connection: changing it means reconnecting. */
  reconnects?: true;
  headless: HeadlessUse;
  /** Where the headless agent's config sets it; without one, the headless default stands. */
  config?: ConfigVariable;
  /** Where the settings form shows it; without one, it has no field (`paused` is a button). */
  form?: FormPlacement;
}

export interface TextSpec extends CommonSpec {
  type: 'text';
  check?: TextCheck;
  default: string;
}

/** Write-only over IPC and the GUI RPC (publicSettings), a password field, kept untrimmed. */
export interface SecretSpec extends CommonSpec {
  type: 'secret';
  default: string;
}

/** PEM text (a form text area); its config variable names the file whose content is the value. */
export interface PemFileSpec extends CommonSpec {
  type: 'pem-file';
  check: TextCheck;
  default: string;
}

export interface NumberSpec extends CommonSpec {
  type: 'integer' | 'number';
  min: number;
  max: number;
  default: number;
  /** What error messages call it, when not its label. */
  errorLabel?: string;
}

export interface BooleanSpec extends CommonSpec {
  type: 'boolean';
  default: boolean;
  /** The headless agent's default, where it differs. */
  headlessDefault?: boolean;
}

export type SettingSpec = TextSpec | SecretSpec | PemFileSpec | NumberSpec | BooleanSpec;
export type SettingType = SettingSpec['type'];

export const SETTINGS_SPEC = {
  /** What the volunteer calls the project (set by an attach link); shown, never sent. */
  projectName: {
    type: 'text',
    default: '',
    label: 'Project',
    headless: 'config-file',
    config: { variable: 'PROJECT_NAME' },
    form: { group: 'project', placeholder: 'CernVM test project' },
  },
  /** JM_JABBER_ADDRESS: where want_getJob is broadcast (several: separated by spaces). */
  jobManagerAddress: {
    type: 'text',
    check: 'jid-list',
    default: '',
    label: 'Job manager',
    headless: 'config-file',
    config: { variable: 'JM_JABBER_ADDRESS', required: 'e.g. jobmanager@xmpp.example.org' },
    form: {
      group: 'project',
      placeholder: 'jm@xmpp.example.org',
      hint: 'The Jabber ID work requests are sent to.',
    },
  },
  /** AGENT_JABBER_SERVER, as host or host:port. */
  xmppServer: {
    type: 'text',
    check: 'host-port',
    default: '',
    label: 'XMPP server',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'AGENT_JABBER_SERVER', required: 'host or host:port of the XMPP server' },
    form: { group: 'project', placeholder: 'xmpp.example.org:5222' },
  },
  /** AGENT_JABBER_DOMAIN (or the domain of a full JID in AGENT_JABBER_ID). */
  xmppDomain: {
    type: 'text',
    check: 'domain',
    default: '',
    label: 'XMPP domain',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'AGENT_JABBER_DOMAIN' },
    form: { group: 'project', placeholder: 'example.org' },
  },
  /** AGENT_JABBER_ID (local part) */
  xmppUsername: {
    type: 'text',
    check: 'name',
    default: '',
    label: 'User name',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'AGENT_JABBER_ID', required: 'the Jabber ID of the agent' },
    form: { group: 'project', placeholder: 'volunteer42' },
  },
  /** AGENT_JABBER_PASSWORD */
  xmppPassword: {
    type: 'secret',
    default: '',
    label: 'Password',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'AGENT_JABBER_PASSWORD', required: true },
    form: { group: 'project' },
  },
  /** Percent of all cores that jobs may use together. */
  cpuLimitPercent: {
    type: 'integer',
    min: 1,
    max: 100,
    default: 50,
    label: 'CPU limit',
    headless: 'overlay',
    config: { variable: 'AGENT_CPU_LIMIT_PERCENT' },
    form: { group: 'computing', unit: '% of all cores' },
  },
  /** Each job's container gets this much (not split between slots); the JDL advertises it. */
  memoryLimitMb: {
    type: 'integer',
    min: 64,
    max: 1_048_576,
    default: 2048,
    label: 'Memory cap',
    headless: 'overlay',
    config: { variable: 'AGENT_MEMORY_LIMIT_MB' },
    form: {
      group: 'computing',
      unit: 'MB per job',
      hint: 'Each job gets this much; with several job slots they add up.',
    },
  },
  /** Each job's disk use (work dir and output), not split between slots; the JDL advertises it. */
  diskLimitMb: {
    type: 'integer',
    min: 100,
    max: 10_485_760,
    default: 10_240,
    label: 'Disk cap',
    headless: 'overlay',
    config: { variable: 'AGENT_DISK_LIMIT_MB' },
    form: {
      group: 'computing',
      unit: 'MB per job',
      hint: 'Each job may use this much disk; with several job slots they add up.',
    },
  },
  jobSlots: {
    type: 'integer',
    min: 1,
    max: 64,
    default: 1,
    label: 'Job slots',
    headless: 'overlay',
    config: { variable: 'AGENT_JOB_SLOTS' },
    form: { group: 'computing', unit: 'jobs at once' },
  },
  /**
   * AGENT_ALLOW_JOB_NETWORK: a job that asks for network (COPILOT_NETWORK=1) gets it. Off by
   * default: the volunteer decides whether jobs may reach their network.
   */
  allowJobNetwork: {
    type: 'boolean',
    default: false,
    label: 'Let jobs use the network when they ask',
    headless: 'overlay',
    config: { variable: 'AGENT_ALLOW_JOB_NETWORK' },
    form: {
      group: 'computing',
      hint: 'Off: jobs cannot reach the internet or your local network.',
    },
  },
  /** A headless machine has no desktop to be idle: it runs unless its config asks otherwise. */
  runOnlyWhenIdle: {
    type: 'boolean',
    default: true,
    headlessDefault: false,
    label: 'Only when the computer is idle',
    headless: 'overlay',
    config: { variable: 'AGENT_RUN_ONLY_WHEN_IDLE' },
    form: { group: 'schedule', hint: 'Jobs pause when you use the keyboard or mouse.' },
  },
  idleMinutes: {
    type: 'integer',
    min: 1,
    max: 1440,
    default: 3,
    label: 'Idle after',
    errorLabel: 'Idle minutes',
    headless: 'overlay',
    config: { variable: 'AGENT_IDLE_MINUTES' },
    form: { group: 'schedule', unit: 'minutes without input', enabledBy: 'runOnlyWhenIdle' },
  },
  /** The computing schedule (src/contract/schedule.ts); empty: any time. */
  computeSchedule: {
    type: 'text',
    check: 'schedule',
    default: '',
    label: 'Compute only during',
    headless: 'overlay',
    config: { variable: 'AGENT_SCHEDULE' },
    form: {
      group: 'schedule',
      placeholder: 'Mon-Fri 18:00-08:00; Sat,Sun 00:00-24:00',
      hint: 'Time windows per weekday, local time. Empty: any time.',
    },
  },
  /** On battery power jobs pause unless this is on (a machine without battery is never on it). */
  runOnBattery: {
    type: 'boolean',
    default: false,
    label: 'Compute while on battery',
    headless: 'overlay',
    config: { variable: 'AGENT_RUN_ON_BATTERY' },
    form: { group: 'schedule', hint: 'Off: jobs pause when the laptop is unplugged.' },
  },
  minBatteryPercent: {
    type: 'integer',
    min: 0,
    max: 100,
    default: 50,
    label: 'Minimum battery charge',
    headless: 'overlay',
    config: { variable: 'AGENT_MIN_BATTERY_PERCENT' },
    form: { group: 'schedule', unit: '%', enabledBy: 'runOnBattery' },
  },
  /** Above it the container CPU quota is lowered step by step, and raised again when cool. */
  thermalLimitC: {
    type: 'integer',
    min: 0,
    max: 120,
    default: 85,
    label: 'Slow down above CPU temperature',
    errorLabel: 'CPU temperature limit',
    headless: 'overlay',
    config: { variable: 'AGENT_THERMAL_LIMIT_C' },
    form: {
      group: 'schedule',
      unit: '°C (0: never)',
      hint: 'Jobs get less CPU while the processor is hotter, and their share back when it cools.',
    },
  },
  /** Jobs pause while the rest of the machine uses more than this much CPU; 0: never. */
  busyCpuPercent: {
    type: 'integer',
    min: 0,
    max: 100,
    default: 0,
    label: 'Pause when other programs use more than',
    errorLabel: 'Busy CPU percent',
    headless: 'overlay',
    config: { variable: 'AGENT_BUSY_CPU_PERCENT' },
    form: { group: 'schedule', unit: '% CPU (0: never)' },
  },
  startAtLogin: {
    type: 'boolean',
    default: true,
    headlessDefault: false,
    label: 'Start Co-Pilot Desktop when I log in',
    headless: 'unused',
    form: { group: 'schedule' },
  },
  /** Set by the Pause and Resume buttons, not a form field. */
  paused: {
    type: 'boolean',
    default: false,
    label: 'Paused',
    headless: 'overlay',
  },
  /** HB_CHAT_SERVER, e.g. conference.localhost; empty disables the Heartbeat. */
  heartbeatChatServer: {
    type: 'text',
    check: 'domain',
    default: '',
    label: 'Chat server',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'HB_CHAT_SERVER' },
    form: { group: 'heartbeat', placeholder: 'conference.example.org' },
  },
  /** HB_CHAT_ROOM, e.g. pilots-lounge */
  heartbeatChatRoom: {
    type: 'text',
    check: 'name',
    default: '',
    label: 'Chat room',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'HB_CHAT_ROOM' },
    form: { group: 'heartbeat', placeholder: 'pilots-lounge' },
  },
  /**
   * The project's Co-Pilot Monitor (its MON_JABBER_ID account): the agent reports its load and
   * jobs there (reportEvent*, noack) as `agent.<resource>`; empty: no monitoring.
   */
  monitorAddress: {
    type: 'text',
    check: 'jid-list',
    default: '',
    label: 'Monitor address',
    headless: 'config-file',
    config: { variable: 'AGENT_MONITOR_ADDRESS' },
    form: {
      group: 'heartbeat',
      placeholder: 'monitor@xmpp.example.org',
      hint: 'Set by your project: this computer reports its load and job counts there.',
    },
  },
  /** Secure mode (report 2.2.7): every job message encrypted for the job manager. */
  secureMode: {
    type: 'boolean',
    default: false,
    label: 'Secure mode: encrypt job messages for the job manager',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'AGENT_SECURE_MODE' },
    form: {
      group: 'security',
      hint: "Only if your project uses it; it gives you the job manager's public key.",
    },
  },
  /** The job manager's RSA public key, PEM (JM_PUBLIC_KEY's content); needed by secure mode. */
  jobManagerPublicKey: {
    type: 'pem-file',
    check: 'public-key-pem',
    default: '',
    label: "Job manager's public key",
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'JM_PUBLIC_KEY' },
    form: { group: 'security', placeholder: '-----BEGIN PUBLIC KEY-----', enabledBy: 'secureMode' },
  },
  /**
   * Registries (`host[:port]`, or with a repository prefix `host[:port]/path`) that a job's
   * image may come from; a job naming any other is refused before anything is pulled.
   */
  allowedImageRegistries: {
    type: 'text',
    check: 'registry-list',
    default: '',
    label: 'Job images may come from',
    headless: 'config-file',
    config: { variable: 'AGENT_ALLOWED_IMAGE_REGISTRIES' },
    form: {
      group: 'security',
      placeholder: 'registry.example.org/project',
      hint: 'Empty: jobs run only in the built-in image.',
    },
  },
  /** Accounts whose adminOrder (drain, pause, resume) this agent follows. */
  adminAccounts: {
    type: 'text',
    check: 'jid-list',
    default: '',
    label: 'Project admins',
    headless: 'config-file',
    config: { variable: 'AGENT_ADMIN_JIDS' },
    form: {
      group: 'security',
      placeholder: 'admin@xmpp.example.org',
      hint: 'They may ask this computer to drain, pause or resume.',
    },
  },
  /** Refuse to log in unless the XMPP connection is encrypted. */
  requireTls: {
    type: 'boolean',
    default: false,
    label: 'Connect only over an encrypted (TLS) connection',
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'AGENT_REQUIRE_TLS' },
    form: { group: 'security' },
  },
  /** PEM certificate(s) to trust for the XMPP server's TLS, when it is not publicly signed. */
  xmppCaCertificate: {
    type: 'pem-file',
    check: 'certificate-pem',
    default: '',
    label: "XMPP server's certificate authority (optional)",
    reconnects: true,
    headless: 'config-file',
    config: { variable: 'AGENT_JABBER_CA_FILE' },
    form: {
      group: 'security',
      placeholder: '-----BEGIN CERTIFICATE-----',
      hint: 'For a server whose certificate is not signed by a public authority.',
    },
  },
} as const satisfies Readonly<Record<string, SettingSpec>>;

export type SettingsSpec = typeof SETTINGS_SPEC;
export type SettingKey = keyof SettingsSpec;

/** The value type a spec entry stands for. */
type ValueOf<S> = S extends { type: 'integer' | 'number' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : string;

/** The settings object a spec describes (AgentSettings is SettingsOf<SettingsSpec>). */
export type SettingsOf<T> = { -readonly [K in keyof T]: ValueOf<T[K]> };

/** Keys of the entries of one type, e.g. SettingKeyOfType<'boolean'>. */
export type SettingKeyOfType<T extends SettingType> = {
  [K in SettingKey]: SettingsSpec[K]['type'] extends T ? K : never;
}[SettingKey];

/** A form field enabled by another setting names a boolean setting (checked at compile time). */
type EnabledBy = {
  [K in SettingKey]: SettingsSpec[K] extends { form: { enabledBy: infer E } } ? E : never;
}[SettingKey];
type Assert<T extends true> = T;
type _EnabledByIsBoolean = Assert<[EnabledBy] extends [SettingKeyOfType<'boolean'>] ? true : false>;
