/**
 * copilot-attach-link: makes a project's attach link (src/protocol/attach-link.ts) from the job
 * manager's config, with a fresh one-use invite from the XMPP server, and prints it (and writes
 * it as a `.copilot` file with --out, and as a QR code with --qr / --qr-svg).
 *
 * The invite: Prosody 0.12's `prosodyctl mod_invites generate <domain>` on the server host (the
 * server's config needs modules invites, invites_register and register_ibr, and
 * registration_invite_only = true; see README). Without a shell on the XMPP host, over XMPP:
 * --invite-over-xmpp (and whenever prosodyctl fails) logs in as JM_INVITE_JABBER_ID (default
 * the manager's account), which must be a server admin, and runs mod_invites_adhoc's "Create
 * new account invite" ad-hoc command (src/transport/xmpp-invite.ts). Or pass a token with
 * --invite.
 */
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import { CopilotError, errorMessage, errorReport } from '@copilot/base/errors';
import { buildAttachLink, formatAttachFile } from '@copilot/protocol/attach-link';
import { qrMatrix, qrSvg, qrTerminalText, type QrMatrix } from '@copilot/protocol/attach-qr';
import { isSwitchOn } from '@copilot/protocol/config-file';
import { sessionTlsFromConfig } from '@copilot/transport/tls-options';
import { xmppServiceUrl } from '@copilot/transport/xmpp-service';
import { createAccountInviteOverXmpp } from '@copilot/transport/xmpp-invite';
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
  --monitor "JID ..."      the project's Monitor; agents report their load and jobs there
                           (default: MON_JABBER_ADDRESS; "none": no Monitor in the link)
  --invite TOKEN           an invite made elsewhere, instead of running prosodyctl
  --invite-over-xmpp       make the invite over XMPP, not with prosodyctl (also the fallback
                           when prosodyctl fails): logs in as JM_INVITE_JABBER_ID with
                           JM_INVITE_JABBER_PASSWORD (default: the manager's account), a server
                           admin, and runs mod_invites_adhoc's "Create new account invite"
  --prosody-config FILE    Prosody's config for prosodyctl (default: prosodyctl's own)
  --prosodyctl-user USER   run prosodyctl as USER (with setpriv; when running as root)
  --out FILE               also write the link as a .copilot file
  --qr                     also print the link as a QR code (Unicode half blocks)
  --qr-svg FILE            also write the QR code as an SVG image
  --help                   this text
`;

const OPTIONS = [
  'name',
  'xmpp-server',
  'managers',
  'ca',
  'registries',
  'admins',
  'monitor',
  'invite',
  'invite-over-xmpp',
  'prosody-config',
  'prosodyctl-user',
  'out',
  'qr',
  'qr-svg',
];
const FLAGS = ['invite-over-xmpp', 'qr'];

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

/** Where the invite came from, for the admin's information. */
export type InviteSource = 'option' | 'prosodyctl' | 'xmpp';

/**
 * The invite: --invite as given; --invite-over-xmpp over XMPP; else prosodyctl, and over XMPP
 * when prosodyctl fails (not installed, not allowed to read Prosody's data, another host), unless
 * a prosodyctl option was given (then its failure is the answer).
 */
export async function obtainInvite(how: {
  token?: string;
  overXmpp: boolean;
  prosodyctlOptions: boolean;
  prosodyctl: () => Promise<string>;
  xmpp: () => Promise<string>;
}): Promise<{ token: string; source: InviteSource }> {
  if (how.token !== undefined) return { token: how.token, source: 'option' };
  if (how.overXmpp) return { token: await how.xmpp(), source: 'xmpp' };
  try {
    return { token: await how.prosodyctl(), source: 'prosodyctl' };
  } catch (prosodyctlError) {
    if (how.prosodyctlOptions) throw prosodyctlError;
    try {
      return { token: await how.xmpp(), source: 'xmpp' };
    } catch (xmppError) {
      throw new Error(
        `no invite: ${errorMessage(prosodyctlError)}; over XMPP: ${errorMessage(xmppError)}`,
      );
    }
  }
}

/** An invite over XMPP as the configured admin account (JM_INVITE_JABBER_*, else the manager's). */
async function inviteOverXmpp(
  values: {
    required(name: string, what: string): string;
    optional(name: string): string | undefined;
  },
  domain: string,
): Promise<string> {
  const inviter = values.optional('JM_INVITE_JABBER_ID');
  const account = inviter ?? values.required('JM_JABBER_ID', 'the manager account');
  const password =
    inviter !== undefined
      ? values.required('JM_INVITE_JABBER_PASSWORD', "the invite account's password")
      : values.required('JM_JABBER_PASSWORD', "the manager account's password");
  const [username = account, accountDomain = domain] = account.split('@');
  const invite = await createAccountInviteOverXmpp({
    service: xmppServiceUrl(values.required('JM_JABBER_SERVER', 'the XMPP server')),
    domain: accountDomain,
    username,
    password,
    tls: sessionTlsFromConfig(
      values.optional('JM_JABBER_CA_FILE'),
      values.optional('JM_REQUIRE_TLS'),
    ),
  });
  return invite.token;
}

/** Builds the link from argv and the manager's config; writes the .copilot file with --out. */
export async function makeAttachLink(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{
  link: string;
  projectName: string;
  out: string | undefined;
  inviteSource: InviteSource;
  qr: QrMatrix | undefined;
}> {
  const loaded = loadConfigValues(argv, env, FLAGS);
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
  const { token, source } = await obtainInvite({
    token: option('invite'),
    overXmpp: option('invite-over-xmpp') !== undefined,
    prosodyctlOptions:
      option('prosody-config') !== undefined || option('prosodyctl-user') !== undefined,
    prosodyctl: () =>
      prosodyInvite(domain, { config: option('prosody-config'), user: option('prosodyctl-user') }),
    xmpp: () => inviteOverXmpp(loaded.values, domain),
  });
  const monitor = option('monitor') ?? variable('MON_JABBER_ADDRESS');
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
    monitorAddresses: monitor === 'none' ? [] : list(monitor),
    inviteToken: token,
  });
  const wantsQr = option('qr') !== undefined || option('qr-svg') !== undefined;
  const qr = wantsQr ? qrMatrix(link) : undefined;
  const out = option('out');
  if (out !== undefined)
    fs.writeFileSync(out, formatAttachFile(link, projectName), { mode: 0o600 });
  const svgFile = option('qr-svg');
  if (qr !== undefined && svgFile !== undefined) {
    // The picture carries the invite as much as the link does.
    fs.writeFileSync(svgFile, qrSvg(qr, { title: `Attach to ${projectName}` }), { mode: 0o600 });
  }
  return { link, projectName, out, inviteSource: source, qr: option('qr') ? qr : undefined };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const { link, inviteSource, qr } = await makeAttachLink(argv);
    if (inviteSource !== 'option') {
      const how = inviteSource === 'xmpp' ? 'over XMPP (ad-hoc command)' : 'with prosodyctl';
      process.stderr.write(`copilot-attach-link: a one-use invite made ${how}\n`);
    }
    process.stdout.write(`${link}\n`);
    if (qr !== undefined) process.stdout.write(qrTerminalText(qr, { ansi: process.stdout.isTTY }));
    return 0;
  } catch (error) {
    process.stderr.write(`copilot-attach-link: ${errorReport(error)}\n`);
    return 2;
  }
}

runIfEntryPoint(import.meta.url, 'copilot-attach-link', main);
