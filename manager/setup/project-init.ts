/**
 * `copilot-manager init`: writes a new project's files (manager/setup/project-files.ts) into one
 * directory, with the secure-mode RSA key pair (PKCS#8 and SPKI PEM, as JM_PRIVATE_KEY and the
 * attach link read them) and fresh random passwords. Nothing that exists is overwritten unless
 * `force`; files with a secret are 0600, the configs the services read are 0640 and given to the
 * service group when it exists.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CopilotError } from '@copilot/base/errors';
import {
  FILE_NAMES,
  managerConfigText,
  managerEnvText,
  monitorConfigText,
  monitorEnvText,
  prosodyAccountsScript,
  prosodySnippet,
  type ProjectFileName,
  type ProjectPlan,
} from './project-files';

export class ProjectInitError extends CopilotError {
  constructor(message: string) {
    super('USAGE_INVALID', message);
    this.name = 'ProjectInitError';
  }
}

export interface ProjectInitOptions {
  projectName: string;
  domain: string;
  /** `host[:port]`; default `<domain>:5222`. */
  xmppServer?: string;
  configDir: string;
  stateDir: string;
  mucDomain?: string;
  room?: string;
  managerId?: string;
  monitorId?: string;
  consoleId?: string;
  storageUrl?: string;
  storagePort?: number;
  monitorHttpPort?: number;
  /** The XMPP server's CA certificate (PEM file), copied into configDir. */
  caFile?: string;
  tlsCertificate?: string;
  tlsKey?: string;
  /** The group the services run as (configs 0640 to it); default `copilot`, when it exists. */
  serviceGroup?: string;
  force?: boolean;
  /** RSA modulus length of the manager's key (default 3072). */
  keyBits?: number;
}

export interface WrittenFile {
  name: ProjectFileName;
  path: string;
  mode: number;
}

export interface ProjectInitResult {
  plan: ProjectPlan;
  files: WrittenFile[];
  publicKeyPem: string;
  /** The group the configs were given to, or undefined (then they stay root's). */
  group: string | undefined;
}

const DOMAIN_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const USER_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ROOM_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function check(what: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) throw new ProjectInitError(`${what} is not valid: ${value}`);
  return value;
}

function password(): string {
  return crypto.randomBytes(24).toString('base64url');
}

function groupId(name: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/etc/group', 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.split('\n').find((line) => line.split(':')[0] === name);
  const gid = fields?.split(':')[2];
  return gid === undefined ? undefined : Number(gid);
}

/** chgrp; false when not allowed (not root and not in the group). */
function giveToGroup(file: string, gid: number): boolean {
  try {
    fs.chownSync(file, -1, gid);
    return true;
  } catch {
    return false;
  }
}

function planOf(options: ProjectInitOptions): ProjectPlan {
  const domain = check('the domain', options.domain.toLowerCase(), DOMAIN_PATTERN);
  const projectName = options.projectName.trim();
  if (projectName === '' || /[\p{Cc}\p{Cf}"\\]/u.test(projectName) || projectName.length > 80) {
    throw new ProjectInitError('the project name must be 1-80 characters, no quotes or controls');
  }
  const xmppServer = options.xmppServer ?? `${domain}:5222`;
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(xmppServer)) {
    throw new ProjectInitError(`the XMPP server must be host[:port]: ${xmppServer}`);
  }
  const storagePort = options.storagePort ?? 8088;
  const storageUrl = options.storageUrl ?? `http://${domain}:${storagePort}`;
  if (!/^https?:\/\/[^\s/]+\/?$/.test(storageUrl)) {
    throw new ProjectInitError(`the storage URL must be http(s)://host[:port]: ${storageUrl}`);
  }
  const account = (what: string, name: string): { username: string; password: string } => ({
    username: check(what, name, USER_PATTERN),
    password: password(),
  });
  const configDir = path.resolve(options.configDir);
  const plan: ProjectPlan = {
    projectName,
    domain,
    xmppServer,
    mucDomain: check('the MUC domain', options.mucDomain ?? `conference.${domain}`, DOMAIN_PATTERN),
    room: check('the room', options.room ?? 'pilots-lounge', ROOM_PATTERN),
    configDir,
    stateDir: path.resolve(options.stateDir),
    storageUrl: storageUrl.replace(/\/+$/, ''),
    storagePort,
    accounts: {
      manager: account('the manager account', options.managerId ?? 'jobmanager'),
      monitor: account('the monitor account', options.monitorId ?? 'monitor'),
      console: account('the console account', options.consoleId ?? 'fleet-console'),
    },
    monitorHttpPort: options.monitorHttpPort ?? 8000,
  };
  if (options.caFile) plan.caFile = path.join(configDir, FILE_NAMES.caCertificate);
  if (options.tlsCertificate && options.tlsKey) {
    plan.tlsCertificate = path.resolve(options.tlsCertificate);
    plan.tlsKey = path.resolve(options.tlsKey);
  } else if (options.tlsCertificate || options.tlsKey) {
    throw new ProjectInitError('--tls-cert and --tls-key go together');
  }
  return plan;
}

function readCa(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
    new crypto.X509Certificate(pem);
  } catch {
    throw new ProjectInitError(`the CA certificate ${file} is not a readable PEM certificate`);
  }
  return pem;
}

/** Writes a new project's files; refuses (writing nothing) when one exists and not force. */
export function initProject(options: ProjectInitOptions): ProjectInitResult {
  const plan = planOf(options);
  const caPem = options.caFile ? readCa(options.caFile) : undefined;
  const keys = crypto.generateKeyPairSync('rsa', { modulusLength: options.keyBits ?? 3072 });
  const publicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const contents: Array<[ProjectFileName, string, number, boolean]> = [
    ['managerConfig', managerConfigText(plan), 0o640, true],
    ['managerEnv', managerEnvText(plan), 0o600, false],
    [
      'privateKey',
      keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      0o600,
      false,
    ],
    ['publicKey', publicKeyPem, 0o644, false],
    ['monitorConfig', monitorConfigText(plan), 0o640, true],
    ['monitorEnv', monitorEnvText(plan), 0o600, false],
    ['prosodySnippet', prosodySnippet(plan), 0o644, false],
    ['prosodyAccounts', prosodyAccountsScript(plan), 0o700, false],
  ];
  if (caPem !== undefined) contents.push(['caCertificate', caPem, 0o644, false]);
  const target = (name: ProjectFileName): string => path.join(plan.configDir, FILE_NAMES[name]);
  const existing = contents.map(([name]) => target(name)).filter((file) => fs.existsSync(file));
  if (existing.length > 0 && !options.force) {
    throw new ProjectInitError(
      `not overwriting ${existing.join(', ')} (use --force to replace them)`,
    );
  }
  const groupName = options.serviceGroup ?? 'copilot';
  const gid = groupId(groupName);
  fs.mkdirSync(plan.configDir, { recursive: true, mode: 0o755 });
  const files: WrittenFile[] = [];
  let given = true;
  for (const [name, text, mode, serviceReadable] of contents) {
    const file = target(name);
    // A new file gets its mode before any byte is written; an old one (--force) is replaced.
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, text, { mode, flag: 'wx' });
    fs.chmodSync(file, mode);
    if (serviceReadable && gid !== undefined) given = giveToGroup(file, gid) && given;
    files.push({ name, path: file, mode });
  }
  return { plan, files, publicKeyPem, group: gid !== undefined && given ? groupName : undefined };
}
