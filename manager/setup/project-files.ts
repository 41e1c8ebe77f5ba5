/**
 * What `copilot-manager init` writes for a new project, as text: the job manager's and the
 * Monitor's configuration (the report's `VARIABLE_NAME VALUE` format, no secrets), their systemd
 * EnvironmentFiles (`KEY=VALUE`, the XMPP passwords: root only, systemd reads them before it drops
 * privileges), the Prosody snippet for the project's VirtualHost and the script that registers
 * the project's own accounts. Pure functions: no I/O.
 */
import path from 'node:path';

/** Everything the files are made from; passwords and paths are chosen by the caller. */
export interface ProjectPlan {
  projectName: string;
  /** The XMPP domain (Prosody VirtualHost). */
  domain: string;
  /** `host:port` of the XMPP server, as the manager and the volunteers reach it. */
  xmppServer: string;
  /** The MUC service of the Heartbeat room, e.g. `conference.<domain>`. */
  mucDomain: string;
  room: string;
  /** Where the files go (e.g. /etc/copilot): the key paths in the configs point there. */
  configDir: string;
  /** JM_STATE_DIR (the service's StateDirectory). */
  stateDir: string;
  /** JM_STORAGE_URL: where agents download inputs and upload outputs. */
  storageUrl: string;
  storagePort: number;
  accounts: {
    manager: ProjectAccount;
    monitor: ProjectAccount;
    console: ProjectAccount;
  };
  /** The XMPP server's CA certificate as installed in configDir; unset: a public CA. */
  caFile?: string;
  /** Certificate and key for Prosody's `ssl` of the VirtualHost; unset: Prosody finds them. */
  tlsCertificate?: string;
  tlsKey?: string;
  monitorHttpPort: number;
}

export interface ProjectAccount {
  /** The local part (user name). */
  username: string;
  password: string;
}

export const FILE_NAMES = {
  managerConfig: 'copilot-jobmanager-generic.conf',
  managerEnv: 'copilot-jobmanager.env',
  privateKey: 'jm-private.pem',
  publicKey: 'jm-public.pem',
  monitorConfig: 'copilot-monitor.conf',
  monitorEnv: 'copilot-monitor.env',
  prosodySnippet: 'prosody-copilot.cfg.lua',
  prosodyAccounts: 'prosody-accounts.sh',
  caCertificate: 'xmpp-ca.pem',
} as const;

export type ProjectFileName = keyof typeof FILE_NAMES;

export function jidOf(plan: ProjectPlan, account: ProjectAccount): string {
  return `${account.username}@${plan.domain}`;
}

function configLines(values: ReadonlyArray<[string, string | number] | string>): string {
  return (
    values
      .map((entry) => (typeof entry === 'string' ? entry : `${entry[0].padEnd(26)} ${entry[1]}`))
      .join('\n') + '\n'
  );
}

/** A line of a systemd EnvironmentFile: the value double-quoted, `\` `"` `$` escaped. */
export function environmentLine(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${name}: a value on one line only`);
  return `${name}="${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

export function managerConfigText(plan: ProjectPlan): string {
  const key = path.join(plan.configDir, FILE_NAMES.privateKey);
  return configLines([
    `# Co-Pilot Generic Job and Storage Manager of "${plan.projectName}" (copilot-manager init).`,
    '# The XMPP password is in copilot-jobmanager.env (root only); for a manual run:',
    `#   set -a; . ${path.join(plan.configDir, FILE_NAMES.managerEnv)}; set +a`,
    `#   copilot-jobmanager-generic --config ${path.join(plan.configDir, FILE_NAMES.managerConfig)}`,
    '# Variables: manager/README.md. copilot-job-submit and copilot-jobs read this file too.',
    ['JM_JABBER_SERVER', plan.xmppServer],
    ['JM_JABBER_DOMAIN', plan.domain],
    ['JM_JABBER_ID', plan.accounts.manager.username],
    ['JM_JABBER_RESOURCE', 'jobmanager'],
    ['JM_REQUIRE_TLS', 1],
    ...(plan.caFile ? ([['JM_JABBER_CA_FILE', plan.caFile]] as Array<[string, string]>) : []),
    '# Secure mode: agents wrap their session keys for this key (its public half is in the',
    '# attach link). The systemd unit hands the file over as a credential.',
    ['JM_SECURE_MODE', 1],
    ['JM_PRIVATE_KEY', key],
    '# State: the queue (SQLite), job inputs and outputs, finished jobs.',
    ['JM_STATE_DIR', plan.stateDir],
    '# HTTP storage: agents fetch inputs and upload outputs here, with per-job tokens.',
    ['JM_STORAGE_BIND', '0.0.0.0'],
    ['JM_STORAGE_PORT', plan.storagePort],
    ['JM_STORAGE_URL', plan.storageUrl],
    '# The Heartbeat room and the Monitor.',
    ['HB_CHAT_SERVER', plan.mucDomain],
    ['HB_CHAT_ROOM', plan.room],
    ['MON_JABBER_ADDRESS', jidOf(plan, plan.accounts.monitor)],
    '# Volunteers: a request cooldown (seconds) and a ban list, re-read when it changes.',
    ['JM_REQUEST_COOLDOWN', 5],
    ['JM_BANNED_FILE', path.join(plan.configDir, 'banned-agents')],
  ]);
}

export function managerEnvText(plan: ProjectPlan): string {
  return [
    `# systemd EnvironmentFile of copilot-jobmanager.service ("${plan.projectName}"): root only.`,
    environmentLine('JM_JABBER_PASSWORD', plan.accounts.manager.password),
    '',
  ].join('\n');
}

export function monitorConfigText(plan: ProjectPlan): string {
  return configLines([
    `# Co-Pilot Monitor of "${plan.projectName}" (copilot-manager init). Passwords: copilot-monitor.env.`,
    ['MON_JABBER_SERVER', plan.xmppServer],
    ['MON_JABBER_DOMAIN', plan.domain],
    ['MON_JABBER_ID', plan.accounts.monitor.username],
    ['CARBON_SERVER', '127.0.0.1'],
    ['CARBON_PORT', 2003],
    ['MON_HTTP_HOST', '127.0.0.1'],
    ['MON_HTTP_PORT', plan.monitorHttpPort],
    ['MON_CHAT_SERVER', plan.mucDomain],
    ['MON_CHAT_ROOM', plan.room],
    '# The manager, and every account of the domain (the agents; registration is by invite only).',
    ['MON_ALLOWED_SENDERS', `${jidOf(plan, plan.accounts.manager)} *@${plan.domain}`],
    '# The fleet console account; agents follow its drain/pause/resume (the attach link lists it).',
    ['MON_CONSOLE_JABBER_ID', plan.accounts.console.username],
  ]);
}

export function monitorEnvText(plan: ProjectPlan): string {
  const lines = [
    `# systemd EnvironmentFile of copilot-monitor.service ("${plan.projectName}"): root only.`,
    environmentLine('MON_JABBER_PASSWORD', plan.accounts.monitor.password),
    environmentLine('MON_CONSOLE_JABBER_PASSWORD', plan.accounts.console.password),
  ];
  if (plan.caFile) {
    lines.push(
      '# The Monitor takes no CA variable: Node trusts the XMPP server CA from here.',
      environmentLine('NODE_EXTRA_CA_CERTS', plan.caFile),
    );
  }
  return lines.join('\n') + '\n';
}

function lua(value: string): string {
  return JSON.stringify(value);
}

/** The VirtualHost and MUC component of the project, for Prosody 0.12. */
export function prosodySnippet(plan: ProjectPlan): string {
  const ssl =
    plan.tlsCertificate && plan.tlsKey
      ? `  ssl = { certificate = ${lua(plan.tlsCertificate)}; key = ${lua(plan.tlsKey)}; }`
      : `  -- TLS: prosodyctl cert import ${plan.domain} /path/to/certs (or ssl = { certificate = …; key = … })`;
  return [
    `-- Co-Pilot project ${lua(plan.projectName)} (copilot-manager init), for Prosody 0.12.`,
    `-- Debian: copy to /etc/prosody/conf.d/${plan.domain}.cfg.lua, then`,
    `-- prosodyctl reload; sh ${path.join(plan.configDir, FILE_NAMES.prosodyAccounts)}`,
    '-- Also set network_settings = { nagle = false } in the global section (small stanzas).',
    `VirtualHost ${lua(plan.domain)}`,
    ssl,
    '  c2s_require_encryption = true',
    '  authentication = "internal_hashed"',
    '  -- Volunteers make their own account with the attach link invite (XEP-0379 + XEP-0077):',
    '  -- invite only; invites come from copilot-attach-link (prosodyctl mod_invites generate).',
    '  modules_enabled = { "invites"; "invites_register"; "invites_adhoc"; "register_ibr" }',
    '  allow_registration = false',
    '  registration_invite_only = true',
    '  -- Invites without a shell here: copilot-attach-link --invite-over-xmpp runs the',
    '  -- "Create new account invite" ad-hoc command (mod_invites_adhoc) as an admin of this host',
    '  -- (JM_INVITE_JABBER_ID / JM_INVITE_JABBER_PASSWORD). Use an account of its own, not the',
    "  -- manager's: a host admin may also delete and reset accounts (mod_admin_adhoc).",
    `  -- admins = { ${lua(`invites@${plan.domain}`)} }`,
    '',
    `-- The Heartbeat room ${lua(`${plan.room}@${plan.mucDomain}`)}: made by the first member to join.`,
    `Component ${lua(plan.mucDomain)} "muc"`,
    '  restrict_room_creation = "local" -- only accounts of this server create rooms',
    '  muc_room_locking = false -- joinable at once, without owner configuration',
    '  -- the fleet console sends its orders to the members real JIDs',
    '  muc_room_default_public_jids = true',
    "  -- thousands of agents: an occupant's join goes to nobody (not N² presences); the",
    '  -- Monitor and its console own the room, so they list the occupants (muc#admin)',
    '  muc_room_default_presence_broadcast = { moderator = true }',
    `  admins = { ${[plan.accounts.monitor, plan.accounts.console].map((account) => lua(jidOf(plan, account))).join('; ')} }`,
    '',
  ].join('\n');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Registers the manager's, the Monitor's and the console's accounts with prosodyctl. */
export function prosodyAccountsScript(plan: ProjectPlan): string {
  const { manager, monitor, console } = plan.accounts;
  return [
    '#!/bin/sh',
    `# The accounts of Co-Pilot project ${shellQuote(plan.projectName)} (copilot-manager init).`,
    '# Run as root on the XMPP server once the Prosody snippet is loaded. PROSODYCTL may name',
    '# another command, e.g. PROSODYCTL="prosodyctl --config /etc/prosody/prosody.cfg.lua".',
    'set -eu',
    'PROSODYCTL="${PROSODYCTL:-prosodyctl}"',
    ...[manager, monitor, console].map(
      (account) =>
        `$PROSODYCTL register ${shellQuote(account.username)} ${shellQuote(plan.domain)} ${shellQuote(account.password)}`,
    ),
    '',
  ].join('\n');
}
