/**
 * copilot-manager init --name NAME --domain DOMAIN [options]
 *
 * Sets up a project: the job manager's and the Monitor's configuration, their systemd
 * EnvironmentFiles, the secure-mode key pair, the Prosody snippet for the project's VirtualHost
 * and the script that registers the project's accounts (manager/setup/project-init.ts). With
 * --invite it also prints the attach link for volunteers; without, it prints the
 * copilot-attach-link command that makes one once Prosody has the snippet.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import { errorReport } from '@copilot/base/errors';
import { buildAttachLink, formatAttachFile } from '@copilot/protocol/attach-link';
import { parseConfigArgs } from '@copilot/protocol/config-file';
import { FILE_NAMES, jidOf } from '@manager/setup/project-files';
import {
  ProjectInitError,
  initProject,
  type ProjectInitOptions,
  type ProjectInitResult,
} from '@manager/setup/project-init';

export const USAGE = `usage: copilot-manager init --name "PROJECT NAME" --domain DOMAIN [options]

Writes a new project's files into --dir (default /etc/copilot), overwriting nothing without
--force: copilot-jobmanager-generic.conf and copilot-monitor.conf (0640), their systemd
EnvironmentFiles copilot-jobmanager.env and copilot-monitor.env (the XMPP passwords, 0600),
jm-private.pem (0600) and jm-public.pem (secure mode), prosody-copilot.cfg.lua (the VirtualHost
with invite-only registration and the Heartbeat MUC) and prosody-accounts.sh (0700, registers
the manager's, the Monitor's and the fleet console's accounts).

Options:
  --name NAME              the project's name, as volunteers see it (required)
  --domain DOMAIN          the project's XMPP domain, a Prosody VirtualHost (required)
  --xmpp-server HOST:PORT  the XMPP server as the manager and volunteers reach it (DOMAIN:5222)
  --dir DIR                where the files go (/etc/copilot)
  --state-dir DIR          the manager's JM_STATE_DIR (/var/lib/copilot-jobmanager)
  --storage-url URL        where agents reach the manager's HTTP storage (http://DOMAIN:8088)
  --storage-port PORT      the storage server's port (8088)
  --muc-domain DOMAIN      the MUC service (conference.DOMAIN)
  --room ROOM              the Heartbeat room (pilots-lounge)
  --manager-id USER, --monitor-id USER, --console-id USER
                           account names (jobmanager, monitor, fleet-console)
  --ca FILE                the XMPP server's CA certificate (PEM), pinned in the attach link
  --tls-cert FILE --tls-key FILE   Prosody's certificate and key for the VirtualHost
  --registries "R ..."     registries job images may come from (for the attach link)
  --invite TOKEN           an invite (prosodyctl mod_invites generate DOMAIN): print the link
  --out FILE               with --invite, also write the link as a .copilot file
  --group GROUP            the services' group, given the configs (copilot)
  --force                  replace existing files
  --help                   this text
`;

const OPTIONS = [
  'name',
  'domain',
  'xmpp-server',
  'dir',
  'state-dir',
  'storage-url',
  'storage-port',
  'muc-domain',
  'room',
  'manager-id',
  'monitor-id',
  'console-id',
  'ca',
  'tls-cert',
  'tls-key',
  'registries',
  'invite',
  'out',
  'group',
  'force',
];

function port(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 65_535) {
    throw new ProjectInitError(`${what} must be a port number: ${value}`);
  }
  return number;
}

/** The init options from argv; throws ProjectInitError on unknown or missing ones. */
export function initOptionsFrom(argv: readonly string[]): {
  options: ProjectInitOptions;
  extra: { registries: string[]; invite?: string; out?: string };
} {
  const args = parseConfigArgs(argv, ['force']);
  const unknown = [...args.options.keys()].filter((name) => !OPTIONS.includes(name));
  const stray = [...args.overrides.keys()].map((name) => `--${name}`);
  if (unknown.length > 0 || stray.length > 0 || args.positional.length > 0 || args.configPath) {
    const names = [...unknown.map((name) => `--${name}`), ...stray, ...args.positional];
    throw new ProjectInitError(`unknown arguments: ${names.join(' ') || '--config'}`);
  }
  const get = (name: string): string | undefined => args.options.get(name);
  const name = get('name');
  const domain = get('domain');
  if (!name || !domain) throw new ProjectInitError('--name and --domain are required');
  const options: ProjectInitOptions = {
    projectName: name,
    domain,
    configDir: get('dir') ?? '/etc/copilot',
    stateDir: get('state-dir') ?? '/var/lib/copilot-jobmanager',
    force: args.options.has('force'),
  };
  const optional: Array<[keyof ProjectInitOptions, string | number | undefined]> = [
    ['xmppServer', get('xmpp-server')],
    ['storageUrl', get('storage-url')],
    ['storagePort', port(get('storage-port'), '--storage-port')],
    ['mucDomain', get('muc-domain')],
    ['room', get('room')],
    ['managerId', get('manager-id')],
    ['monitorId', get('monitor-id')],
    ['consoleId', get('console-id')],
    ['caFile', get('ca')],
    ['tlsCertificate', get('tls-cert')],
    ['tlsKey', get('tls-key')],
    ['serviceGroup', get('group')],
  ];
  for (const [key, value] of optional) {
    if (value !== undefined) Object.assign(options, { [key]: value });
  }
  const extra: { registries: string[]; invite?: string; out?: string } = {
    registries: (get('registries') ?? '').split(/[\s,]+/).filter((entry) => entry !== ''),
  };
  const invite = get('invite');
  const out = get('out');
  if (invite !== undefined) extra.invite = invite;
  if (out !== undefined) {
    if (invite === undefined) throw new ProjectInitError('--out needs --invite');
    extra.out = out;
  }
  return { options, extra };
}

/** The attach link of a freshly initialised project, with the given invite. */
export function attachLinkOf(
  result: ProjectInitResult,
  invite: string,
  registries: readonly string[],
): string {
  const { plan } = result;
  return buildAttachLink({
    projectName: plan.projectName,
    xmppServer: plan.xmppServer,
    xmppDomain: plan.domain,
    managerJids: [jidOf(plan, plan.accounts.manager)],
    caCertificatePem: plan.caFile ? fs.readFileSync(plan.caFile, 'utf8') : undefined,
    managerPublicKeyPem: result.publicKeyPem,
    allowedImageRegistries: registries,
    adminAccounts: [jidOf(plan, plan.accounts.console)],
    // Agents report their load and jobs to the project's Monitor (its MON_JABBER_ADDRESS).
    monitorAddresses: [jidOf(plan, plan.accounts.monitor)],
    inviteToken: invite,
  });
}

function summary(result: ProjectInitResult): string {
  const { plan } = result;
  const file = (name: keyof typeof FILE_NAMES): string =>
    path.join(plan.configDir, FILE_NAMES[name]);
  const lines = result.files.map(
    (written) => `  ${written.path} (${written.mode.toString(8).padStart(4, '0')})`,
  );
  const group = result.group
    ? `The configs are readable by the group ${result.group}.`
    : 'No service group was found: create the copilot user (packaging/sysusers.d/copilot.conf), then chgrp copilot the two .conf files.';
  return [
    `Project "${plan.projectName}" on ${plan.domain}: wrote`,
    ...lines,
    group,
    '',
    'Next:',
    `  1. Prosody: copy ${file('prosodySnippet')} to /etc/prosody/conf.d/${plan.domain}.cfg.lua, give`,
    `     the VirtualHost a certificate, prosodyctl reload, then sh ${file('prosodyAccounts')}`,
    '  2. Services: systemctl enable --now copilot-jobmanager copilot-monitor (packaging/README.md)',
    `  3. A job: sudo -u copilot copilot-job-submit --config ${file('managerConfig')} --command=FILE`,
    `  4. Volunteers: copilot-attach-link --config ${file('managerConfig')} --name "${plan.projectName}" \\`,
    `       --admins ${jidOf(plan, plan.accounts.console)} --prosodyctl-user prosody --out project.copilot`,
    '',
  ].join('\n');
}

async function init(argv: readonly string[]): Promise<number> {
  const { options, extra } = initOptionsFrom(argv);
  const result = initProject(options);
  process.stdout.write(summary(result));
  if (extra.invite !== undefined) {
    const link = attachLinkOf(result, extra.invite, extra.registries);
    if (extra.out !== undefined) {
      fs.writeFileSync(extra.out, formatAttachFile(link, result.plan.projectName), {
        mode: 0o600,
      });
    }
    process.stdout.write(`Attach link for volunteers (the invite works once):\n${link}\n`);
  }
  return Promise.resolve(0);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (
    command === undefined ||
    command === '--help' ||
    command === '-h' ||
    rest.includes('--help')
  ) {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'init') {
    process.stderr.write(`copilot-manager: unknown command ${command}\n${USAGE}`);
    return 2;
  }
  try {
    return await init(rest);
  } catch (error) {
    process.stderr.write(`copilot-manager init: ${errorReport(error)}\n`);
    return 2;
  }
}

runIfEntryPoint(import.meta.url, 'copilot-manager', main);
