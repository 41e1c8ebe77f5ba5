/**
 * Attach links (ours): everything a volunteer's agent needs to join a project, in one
 * `copilot://attach?v=1&…` URL or the same text in a small `.copilot` file. An admin makes one
 * with `copilot-attach-link` (or `copilot-manager init`); the agent parses it, shows the
 * volunteer what the project is and what it may do, and on accept registers its own XMPP
 * account with the invite token and writes its settings.
 *
 * The link is untrusted input until the volunteer accepts it: every field is length-capped and
 * checked here (the same rules as src/contract/settings-checks.ts, restated because this layer
 * imports nothing of ours but src/base), the CA certificate and the manager's key are parsed
 * with node:crypto, and the CA's SHA-256 fingerprint in the link must match the certificate the
 * link carries.
 *
 * Parameters: v=1, name (project name), xmpp (host:port), domain, jm (manager JIDs, comma
 * separated), ca (the CA certificate, DER, base64url), fp (its SHA-256, 64 hex), key (the
 * manager's public key, SPKI DER, base64url; secure mode), reg (allowed image registries,
 * comma separated), admin (admin JIDs, comma separated), mon (the project's Monitor JIDs,
 * comma separated; optional, links made before it have none), invite (the invite token).
 */
import crypto from 'node:crypto';
import { CopilotError } from '../base/errors';

export class AttachLinkError extends CopilotError {
  constructor(message: string) {
    super('CONFIG_INVALID', `attach link: ${message}`);
    this.name = 'AttachLinkError';
  }
}

/** What an admin puts into a link. */
export interface AttachLinkFields {
  /** What the volunteer calls the project (shown, never sent). */
  projectName: string;
  /** The XMPP server, `host:port` (or `host`, port 5222). */
  xmppServer: string;
  xmppDomain: string;
  /** The job manager address(es) work requests go to. */
  managerJids: readonly string[];
  /** PEM of the CA certificate that signs the XMPP server's certificate; absent: public CA. */
  caCertificatePem?: string;
  /** The manager's RSA public key (PEM); present: the agent runs in secure mode. */
  managerPublicKeyPem?: string;
  /** Registries (`host[:port][/path]`) job images may come from. */
  allowedImageRegistries: readonly string[];
  /** Accounts whose adminOrder the agent follows. */
  adminAccounts: readonly string[];
  /** The project's Monitor: where the agent reports its load and jobs (monitorAddress). */
  monitorAddresses?: readonly string[];
  /** The invite token the XMPP server accepts at in-band registration. */
  inviteToken: string;
}

/** A parsed link: the fields, plus the CA fingerprint (lower-case hex) when a CA is carried. */
export interface AttachLink extends AttachLinkFields {
  managerJids: string[];
  allowedImageRegistries: string[];
  adminAccounts: string[];
  /** Present only when the link names a Monitor. */
  monitorAddresses?: string[];
  caFingerprint256?: string;
}

export const ATTACH_LINK_PREFIX = 'copilot://attach?';
export const ATTACH_LINK_VERSION = '1';
/** A link longer than this is refused before it is looked at. */
export const MAX_ATTACH_LINK_LENGTH = 16_384;
/** A `.copilot` file larger than this is refused. */
export const MAX_ATTACH_FILE_BYTES = 32_768;
export const ATTACH_FILE_EXTENSION = '.copilot';

const MAX_NAME = 80;
const MAX_HOST = 255;
const MAX_LIST = 16;
const MAX_JID = 320;
const MAX_DER = 6_000;

/**
 * No control, format (bidi overrides) or separator characters anywhere: the consent screen shows
 * these addresses, and a right-to-left override would show another domain than the real one.
 */
const JID_PATTERN = /^[^@/\s,\p{Cc}\p{Cf}\p{Z}]+@[A-Za-z0-9.-]+(\/[^\s,\p{Cc}\p{Cf}\p{Z}]+)?$/u;
const HOST_PORT_PATTERN = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:\d{1,5})?$/;
const DOMAIN_PATTERN =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const REGISTRY_PATTERN =
  /^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:]+\])(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const TOKEN_PATTERN = /^[A-Za-z0-9_.~-]{8,128}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;
const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;
/** Printable text: no control characters, no bidi overrides or other format characters. */
const PLAIN_TEXT_PATTERN = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;

const KNOWN_PARAMS = new Set([
  'v',
  'name',
  'xmpp',
  'domain',
  'jm',
  'ca',
  'fp',
  'key',
  'reg',
  'admin',
  'mon',
  'invite',
]);

function fail(message: string): never {
  throw new AttachLinkError(message);
}

function checkProjectName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') fail('the project name is missing');
  if ([...trimmed].length > MAX_NAME) fail(`the project name is longer than ${MAX_NAME}`);
  if (!PLAIN_TEXT_PATTERN.test(trimmed)) fail('the project name has control characters');
  return trimmed;
}

function checkHostPort(value: string): string {
  if (value.length > MAX_HOST || !HOST_PORT_PATTERN.test(value)) {
    fail('the XMPP server must be a host name, optionally with :port');
  }
  const port = /:(\d+)$/.exec(value)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) {
    fail('the XMPP server port is out of range');
  }
  return value;
}

function checkDomain(value: string): string {
  if (value.length > MAX_HOST || !DOMAIN_PATTERN.test(value)) fail('the domain is not valid');
  return value.toLowerCase();
}

function checkList(
  what: string,
  values: readonly string[],
  pattern: RegExp,
  maxLength: number,
): string[] {
  const list = values.map((value) => value.trim()).filter((value) => value !== '');
  if (list.length > MAX_LIST) fail(`more than ${MAX_LIST} ${what}`);
  for (const value of list) {
    if (value.length > maxLength || !pattern.test(value)) {
      fail(`${what}: ${JSON.stringify(value.slice(0, 60))} is not valid`);
    }
  }
  return list;
}

function checkToken(token: string): string {
  if (!TOKEN_PATTERN.test(token)) fail('the invite token is missing or not valid');
  return token;
}

function pemBody(pem: string, label: string): Buffer {
  const match = new RegExp(
    `^-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+)-----END ${label}-----\\s*$`,
  ).exec(pem.trim() + '\n');
  if (!match?.[1]) fail(`not one PEM ${label.toLowerCase()}`);
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

function derToPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The CA certificate's DER, checked to be a CA certificate node:crypto can read. */
function caDer(der: Buffer): Buffer {
  if (der.length === 0 || der.length > MAX_DER) fail('the CA certificate has a wrong size');
  let certificate: crypto.X509Certificate;
  try {
    certificate = new crypto.X509Certificate(der);
  } catch {
    fail('the CA certificate does not parse');
  }
  if (!certificate.ca) fail('the certificate is not a CA certificate (basicConstraints CA:TRUE)');
  return Buffer.from(certificate.raw);
}

/** The manager's key as SPKI DER, checked to be an RSA public key of at least 2048 bits. */
function managerKeyDer(der: Buffer): Buffer {
  if (der.length === 0 || der.length > MAX_DER) fail("the manager's key has a wrong size");
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    fail("the manager's public key does not parse");
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048) {
    fail("the manager's key must be an RSA public key of 2048 bits or more");
  }
  return Buffer.from(key.export({ format: 'der', type: 'spki' }));
}

function publicKeyDerFromPem(pem: string): Buffer {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey(pem);
  } catch {
    fail("the manager's public key does not parse");
  }
  return Buffer.from(key.export({ format: 'der', type: 'spki' }));
}

function fingerprintOf(der: Buffer): string {
  return crypto.createHash('sha256').update(der).digest('hex');
}

function fromBase64Url(what: string, text: string): Buffer {
  if (!BASE64URL_PATTERN.test(text)) fail(`${what} is not base64url`);
  return Buffer.from(text, 'base64url');
}

/** Builds the link; throws AttachLinkError when a field would not pass parseAttachLink. */
export function buildAttachLink(fields: AttachLinkFields): string {
  const params = new URLSearchParams();
  params.set('v', ATTACH_LINK_VERSION);
  params.set('name', checkProjectName(fields.projectName));
  params.set('xmpp', checkHostPort(fields.xmppServer));
  params.set('domain', checkDomain(fields.xmppDomain));
  const managers = checkList('manager addresses', fields.managerJids, JID_PATTERN, MAX_JID);
  if (managers.length === 0) fail('no manager address');
  params.set('jm', managers.join(','));
  if (fields.caCertificatePem !== undefined && fields.caCertificatePem.trim() !== '') {
    const der = caDer(pemBody(fields.caCertificatePem, 'CERTIFICATE'));
    params.set('ca', der.toString('base64url'));
    params.set('fp', fingerprintOf(der));
  }
  if (fields.managerPublicKeyPem !== undefined && fields.managerPublicKeyPem.trim() !== '') {
    const der = managerKeyDer(publicKeyDerFromPem(fields.managerPublicKeyPem));
    params.set('key', der.toString('base64url'));
  }
  const registries = checkList(
    'image registries',
    fields.allowedImageRegistries.map((entry) => entry.toLowerCase().replace(/\/+$/, '')),
    REGISTRY_PATTERN,
    MAX_HOST,
  );
  if (registries.length > 0) params.set('reg', registries.join(','));
  const admins = checkList('admin accounts', fields.adminAccounts, JID_PATTERN, MAX_JID);
  if (admins.length > 0) params.set('admin', admins.join(','));
  const monitors = checkList(
    'Monitor addresses',
    fields.monitorAddresses ?? [],
    JID_PATTERN,
    MAX_JID,
  );
  if (monitors.length > 0) params.set('mon', monitors.join(','));
  params.set('invite', checkToken(fields.inviteToken));
  const link = ATTACH_LINK_PREFIX + params.toString();
  if (link.length > MAX_ATTACH_LINK_LENGTH) fail('the link would be too long');
  return link;
}

/** The one value of a parameter: a repeated parameter is refused, not guessed between. */
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) fail(`"${name}" is given more than once`);
  return values[0];
}

function required(params: URLSearchParams, name: string, what: string): string {
  const value = single(params, name);
  if (value === undefined || value === '') fail(`${what} is missing`);
  return value;
}

function splitList(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',');
}

function parseCa(
  params: URLSearchParams,
): Pick<AttachLink, 'caCertificatePem' | 'caFingerprint256'> {
  const ca = single(params, 'ca');
  const fp = single(params, 'fp');
  if (ca === undefined && fp === undefined) return {};
  if (ca === undefined || fp === undefined)
    fail('the CA certificate and its fingerprint go together');
  const fingerprint = fp.toLowerCase();
  if (!FINGERPRINT_PATTERN.test(fingerprint)) fail('the CA fingerprint is not 64 hex digits');
  const der = caDer(fromBase64Url('the CA certificate', ca));
  if (fingerprintOf(der) !== fingerprint) {
    fail("the CA certificate does not match the link's fingerprint");
  }
  return { caCertificatePem: derToPem(der, 'CERTIFICATE'), caFingerprint256: fingerprint };
}

/** Parses and checks a link; anything it does not accept throws AttachLinkError. */
export function parseAttachLink(text: string): AttachLink {
  const link = text.trim();
  if (link.length > MAX_ATTACH_LINK_LENGTH) fail('the link is too long');
  if (!link.toLowerCase().startsWith(ATTACH_LINK_PREFIX)) {
    fail(`not an attach link (it starts with ${ATTACH_LINK_PREFIX})`);
  }
  const query = link.slice(ATTACH_LINK_PREFIX.length);
  if (/[\s#]/.test(query)) fail('the link has spaces or a fragment');
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!KNOWN_PARAMS.has(name)) fail(`unknown parameter ${JSON.stringify(name.slice(0, 40))}`);
  }
  if (single(params, 'v') !== ATTACH_LINK_VERSION) {
    fail(`version ${ATTACH_LINK_VERSION} expected (a newer Co-Pilot may read this link)`);
  }
  const managerJids = checkList(
    'manager addresses',
    splitList(required(params, 'jm', 'the manager address')),
    JID_PATTERN,
    MAX_JID,
  );
  if (managerJids.length === 0) fail('no manager address');
  const key = single(params, 'key');
  const mon = single(params, 'mon');
  if (mon === '') fail('the Monitor address is empty');
  const monitorAddresses =
    mon === undefined ? [] : checkList('Monitor addresses', splitList(mon), JID_PATTERN, MAX_JID);
  return {
    projectName: checkProjectName(required(params, 'name', 'the project name')),
    xmppServer: checkHostPort(required(params, 'xmpp', 'the XMPP server')),
    xmppDomain: checkDomain(required(params, 'domain', 'the XMPP domain')),
    managerJids,
    ...parseCa(params),
    ...(key === undefined
      ? {}
      : {
          managerPublicKeyPem: derToPem(
            managerKeyDer(fromBase64Url("the manager's key", key)),
            'PUBLIC KEY',
          ),
        }),
    allowedImageRegistries: checkList(
      'image registries',
      splitList(single(params, 'reg')),
      REGISTRY_PATTERN,
      MAX_HOST,
    ),
    adminAccounts: checkList(
      'admin accounts',
      splitList(single(params, 'admin')),
      JID_PATTERN,
      MAX_JID,
    ),
    ...(monitorAddresses.length > 0 ? { monitorAddresses } : {}),
    inviteToken: checkToken(required(params, 'invite', 'the invite token')),
  };
}

/** The text of a `.copilot` file: a comment line and the link. */
export function formatAttachFile(link: string, projectName: string): string {
  const name = projectName.replace(/[\p{Cc}\p{Cf}]/gu, ' ');
  return `# Co-Pilot attach link for ${name}: open it with Co-Pilot Desktop, or run copilot-agent --attach FILE\n${link}\n`;
}

/** The link in a `.copilot` file's text: lines starting with # and blank lines are skipped. */
export function parseAttachFile(text: string): AttachLink {
  if (Buffer.byteLength(text, 'utf8') > MAX_ATTACH_FILE_BYTES) fail('the file is too large');
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (lines.length !== 1 || lines[0] === undefined) fail('the file must hold exactly one link');
  return parseAttachLink(lines[0]);
}
