/**
 * copilot-attach-link: makes a project's attach link (src/protocol/attach-link.ts) from the job
 * manager's config, with a fresh one-use invite from the XMPP server, and prints it (and writes
 * it as a `.copilot` file with --out).
 *
 * The invite: Prosody 0.12's `prosodyctl mod_invites generate <domain>` on the server host (the
 * server's config needs modules invites, invites_register and register_ibr, and
 * registration_invite_only = true; see README). On another host, make the invite there (the
 * same prosodyctl command, or the "Create new account invite" ad-hoc command of
 * mod_invites_adhoc as a server admin) and pass its token with --invite.
 */
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import { CopilotError, errorMessage, errorReport } from '@copilot/base/errors';
import { buildAttachLink, formatAttachFile } from '@copilot/protocol/attach-link';
import { isSwitchOn } from '@copilot/protocol/config-file';
import { loadConfigValues } from '@manager/job-manager/manager-config';

export const USAGE = `usage: copilot-attach-link --name "PROJECT NAME" [options] [--config FILE] [--JM_VARIABLE=value ...]

Prints an attach link (copilot://attach?v=1&...) a volunteer opens with Co-Pilot Desktop or
passes to copilot-agent --attach. It carries the XMPP server and domain, the manager's address,
the server's CA certificate (pinned by the agent), the manager's public key when JM_SECURE_MODE
is on, the allowed job image registries, admin accounts, and a one-use invite.

Options:
  --name NAME              the project's name, as volunteers see it (required)
  --xmpp-server HOST:PORT  the XMPP server as volunteers reach it (default: JM_JABBER_SERVER)
  --managers "JID ..."     manager addresses (default: JM_JABBER_ID@JM_JABBER_DOMAIN)
  --ca FILE                the CA certificate (PEM) of the XMPP server (default: JM_JABBER_CA_FILE)
  --registries "R ..."     registries job images may come from (host[:port][/path])
  --admins "JID ..."       accounts whose drain/pause/resume orders agents follow
  --invite TOKEN           an invite made elsewhere, instead of running prosodyctl
  --prosody-config FILE    Prosody's config for prosodyctl (default: prosodyctl's own)
  --prosodyctl-user USER   run prosodyctl as USER (with setpriv; when running as root)
  --out FILE               also write the link as a .copilot file
  --help                   this text
`;

const OPTIONS = [
  'name',
  'xmpp-server',
  'managers',
  'ca',
  'registries',
  'admins',
  'invite',
  'prosody-config',
  'prosodyctl-user',
  'out',
];

class AttachLinkUsageError extends CopilotError {
  constructor(message: string) {
    super('USAGE_INVALID', message);
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${stderr.trim() || errorMessage(error)}`));
      else resolve(stdout);
    });
  });
}

/** A one-use account invite from Prosody (mod_invites), as its token. */
export async function prosodyInvite(
  domain: string,
  options: { config?: string; user?: string } = {},
): Promise<string> {
  const args = [
    ...(options.config ? ['--config', options.config] : []),
    'mod_invites',
    'generate',
    domain,
  ];
  const stdout = options.user
    ? await run('setpriv', [
        `--reuid=${options.user}`,
        `--regid=${options.user}`,
        '--init-groups',
        '--',
        'prosodyctl',
        ...args,
      ])
    : await run('prosodyctl', args);
  const token = /preauth=([A-Za-z0-9_.~-]+)/.exec(stdout)?.[1];
  if (!token) throw new Error(`prosodyctl printed no invite: ${stdout.trim().slice(0, 200)}`);
  return token;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((entry) => entry !== '');
}

function readPem(what: string, file: string | undefined): string | undefined {
  if (file === undefined || file === '') return undefined;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new AttachLinkUsageError(`${what} ${file} cannot be read: ${errorMessage(error)}`);
  }
}

/** The manager's public key (PEM) when secure mode is on: derived from JM_PRIVATE_KEY. */
function managerPublicKey(variable: (name: string) => string | undefined): string | undefined {
  if (!isSwitchOn(variable('JM_SECURE_MODE'))) return undefined;
  const pem = readPem('JM_PRIVATE_KEY', variable('JM_PRIVATE_KEY'));
  if (pem === undefined)
    throw new AttachLinkUsageError('JM_SECURE_MODE is on without JM_PRIVATE_KEY');
  return crypto.createPublicKey(pem).export({ format: 'pem', type: 'spki' }).toString();
}

/** Builds the link from argv and the manager's config; writes the .copilot file with --out. */
export async function makeAttachLink(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ link: string; projectName: string; out: string | undefined }> {
  const loaded = loadConfigValues(argv, env);
  const unknown = [...loaded.options.keys()].filter((name) => !OPTIONS.includes(name));
  if (unknown.length > 0 || loaded.positional.length > 0) {
    const names = [...unknown.map((name) => `--${name}`), ...loaded.positional];
    throw new AttachLinkUsageError(`unknown arguments: ${names.join(' ')}`);
  }
  const option = (name: string): string | undefined => loaded.options.get(name);
  const variable = (name: string): string | undefined => loaded.values.optional(name);
  const projectName = option('name');
  if (projectName === undefined) throw new AttachLinkUsageError('--name is required');
  const domain = loaded.values.required('JM_JABBER_DOMAIN', 'the XMPP domain');
  const id = loaded.values.required('JM_JABBER_ID', 'the manager account');
  const server =
    option('xmpp-server') ??
    loaded.values.required('JM_JABBER_SERVER', 'the XMPP server').replace(/^xmpps?:\/\//, '');
  const invite =
    option('invite') ??
    (await prosodyInvite(domain, {
      config: option('prosody-config'),
      user: option('prosodyctl-user'),
    }));
  const link = buildAttachLink({
    projectName,
    xmppServer: server,
    xmppDomain: domain,
    managerJids: option('managers')
      ? list(option('managers'))
      : [id.includes('@') ? id : `${id}@${domain}`],
    caCertificatePem: readPem('the CA certificate', option('ca') ?? variable('JM_JABBER_CA_FILE')),
    managerPublicKeyPem: managerPublicKey(variable),
    allowedImageRegistries: list(option('registries')),
    adminAccounts: list(option('admins')),
    inviteToken: invite,
  });
  const out = option('out');
  if (out !== undefined)
    fs.writeFileSync(out, formatAttachFile(link, projectName), { mode: 0o600 });
  return { link, projectName, out };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const { link } = await makeAttachLink(argv);
    process.stdout.write(`${link}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`copilot-attach-link: ${errorReport(error)}\n`);
    return 2;
  }
}

runIfEntryPoint(import.meta.url, 'copilot-attach-link', main);
