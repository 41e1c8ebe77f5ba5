import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AttachLinkError,
  buildAttachLink,
  formatAttachFile,
  MAX_ATTACH_LINK_LENGTH,
  parseAttachFile,
  parseAttachLink,
  type AttachLinkFields,
} from '@copilot/protocol/attach-link';

/** A self-signed CA certificate (P-256, CA:TRUE, valid to 2126), made with openssl for this test. */
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBmTCCAT+gAwIBAgIUNwQP5DRk6qYmDhuvu7aHsAOBOeUwCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWYXR0YWNoLWxpbmstZml4dHVyZS1jYTAgFw0yNjExMzAxOTQw
MjdaGA8yMTI2MTEwNjE5NDAyN1owITEfMB0GA1UEAwwWYXR0YWNoLWxpbmstZml4
dHVyZS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABG0MFLRJDll6GJfTgi69
IyfNU/fy0pYbS9vtIZhWfhQMux53U31dayrtiwr/fJLFMutTjH74cR1Zel1nYM7W
8BCjUzBRMB0GA1UdDgQWBBQ6WOtKokI8+/UCTwZ//N0dh1eP2jAfBgNVHSMEGDAW
gBQ6WOtKokI8+/UCTwZ//N0dh1eP2jAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49
BAMCA0gAMEUCIQDanrXIw+RQBMQ/fn/nzhBCZRqlcsC6UkR1rit2PiOEPwIgC4ee
IoYWnZBoHVg/8MRJUlK1vnFl0W7Jc6t+EzAfv2E=
-----END CERTIFICATE-----
`;
/** A certificate that is not a CA (CA:FALSE). */
const LEAF_PEM = `-----BEGIN CERTIFICATE-----
MIIBcjCCARigAwIBAgIUSRx+QRrKLRq5g5kMr7q4bInelGMwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEbGVhZjAgFw0yNjExMzAxOTQwMjdaGA8yMTI2MTEwNjE5NDAy
N1owDzENMAsGA1UEAwwEbGVhZjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKos
v2rHymuWZTHP1zgdIplNC1b3CsHQ2EYrXpUz3mb/mBUOMiHQU1OqyYGsl5oo2Jfv
c+aZULWmDo6fI+1c5CejUDBOMB0GA1UdDgQWBBRp/CDnmjQAJfHw2AdW/RqMh0OI
mjAfBgNVHSMEGDAWgBRp/CDnmjQAJfHw2AdW/RqMh0OImjAMBgNVHRMBAf8EAjAA
MAoGCCqGSM49BAMCA0gAMEUCIQD9eCP0Ov65WtEVLq4KnrpFswnXt8Nv7ezha7JT
cVWEWAIgBhoUPzMO7XYJS+S1L9P6L0PJCKCmRejZfR7EGAncen4=
-----END CERTIFICATE-----
`;

const MANAGER_KEY = crypto
  .generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ format: 'pem', type: 'spki' })
  .toString();

function fields(overrides: Partial<AttachLinkFields> = {}): AttachLinkFields {
  return {
    projectName: 'CernVM test project',
    xmppServer: 'xmpp.example.org:5222',
    xmppDomain: 'example.org',
    managerJids: ['jm@example.org', 'jm2@example.org'],
    caCertificatePem: CA_PEM,
    managerPublicKeyPem: MANAGER_KEY,
    allowedImageRegistries: ['registry.example.org:5000/copilot'],
    adminAccounts: ['admin@example.org'],
    inviteToken: 'Zx4_abcdefgh-123',
    ...overrides,
  };
}

/** The link with one parameter replaced (or removed, with null). */
function withParam(link: string, name: string, value: string | null): string {
  const params = new URLSearchParams(link.slice('copilot://attach?'.length));
  if (value === null) params.delete(name);
  else params.set(name, value);
  return `copilot://attach?${params.toString()}`;
}

function refusal(link: string): string {
  try {
    parseAttachLink(link);
  } catch (error) {
    expect(error).toBeInstanceOf(AttachLinkError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${link.slice(0, 200)}`);
}

describe('attach links', () => {
  it('round-trips every field, with the CA and the key as PEM and the fingerprint computed', () => {
    const link = buildAttachLink(fields());
    expect(link.startsWith('copilot://attach?v=1&')).toBe(true);
    const parsed = parseAttachLink(link);
    const fingerprint = new crypto.X509Certificate(CA_PEM).fingerprint256
      .replace(/:/g, '')
      .toLowerCase();
    expect(parsed).toMatchObject({
      projectName: 'CernVM test project',
      xmppServer: 'xmpp.example.org:5222',
      xmppDomain: 'example.org',
      managerJids: ['jm@example.org', 'jm2@example.org'],
      allowedImageRegistries: ['registry.example.org:5000/copilot'],
      adminAccounts: ['admin@example.org'],
      inviteToken: 'Zx4_abcdefgh-123',
      caFingerprint256: fingerprint,
    });
    expect(new crypto.X509Certificate(parsed.caCertificatePem ?? '').raw).toEqual(
      new crypto.X509Certificate(CA_PEM).raw,
    );
    const key = crypto.createPublicKey(parsed.managerPublicKeyPem ?? '');
    expect(key.equals(crypto.createPublicKey(MANAGER_KEY))).toBe(true);
  });

  it('leaves out what is not given: no CA (public CA), no key (no secure mode), no admins', () => {
    const link = buildAttachLink(
      fields({
        caCertificatePem: undefined,
        managerPublicKeyPem: '',
        adminAccounts: [],
        allowedImageRegistries: [],
      }),
    );
    const parsed = parseAttachLink(link);
    expect(parsed.caCertificatePem).toBeUndefined();
    expect(parsed.caFingerprint256).toBeUndefined();
    expect(parsed.managerPublicKeyPem).toBeUndefined();
    expect(parsed.adminAccounts).toEqual([]);
    expect(parsed.allowedImageRegistries).toEqual([]);
  });

  it('reads the same link from a .copilot file, comments and blank lines skipped', () => {
    const link = buildAttachLink(fields());
    const text = formatAttachFile(link, 'CernVM test project');
    expect(text.startsWith('# ')).toBe(true);
    expect(parseAttachFile(`\n${text}\n`)).toEqual(parseAttachLink(link));
    expect(() => parseAttachFile(`${link}\n${link}\n`)).toThrow(AttachLinkError);
    expect(() => parseAttachFile('# nothing\n')).toThrow(AttachLinkError);
    expect(() => parseAttachFile(`${'#'.repeat(40_000)}\n${link}`)).toThrow(/too large/);
  });

  it("carries the project's Monitor when given; a link without one (older links) still parses", () => {
    const link = buildAttachLink(fields({ monitorAddresses: ['monitor@example.org'] }));
    expect(new URLSearchParams(link.slice('copilot://attach?'.length)).get('mon')).toBe(
      'monitor@example.org',
    );
    expect(parseAttachLink(link).monitorAddresses).toEqual(['monitor@example.org']);
    const older = buildAttachLink(fields());
    expect(older).not.toContain('mon=');
    expect(parseAttachLink(older).monitorAddresses).toBeUndefined();
    expect(buildAttachLink(fields({ monitorAddresses: [] }))).toBe(older);
  });

  it('refuses fields the builder is given that the parser would refuse', () => {
    expect(() => buildAttachLink(fields({ projectName: ' ' }))).toThrow(AttachLinkError);
    expect(() => buildAttachLink(fields({ managerJids: [] }))).toThrow(/no manager/);
    expect(() => buildAttachLink(fields({ caCertificatePem: LEAF_PEM }))).toThrow(/not a CA/);
    expect(() => buildAttachLink(fields({ inviteToken: 'short' }))).toThrow(/invite/);
    expect(() => buildAttachLink(fields({ monitorAddresses: ['monitor'] }))).toThrow(/Monitor/);
    const weak = crypto
      .generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ format: 'pem', type: 'spki' })
      .toString();
    expect(() => buildAttachLink(fields({ managerPublicKeyPem: weak }))).toThrow(/2048/);
  });
});

describe('hostile attach links', () => {
  const good = buildAttachLink(fields());

  it('refuses other schemes, other versions, unknown and repeated parameters', () => {
    expect(refusal(good.replace('copilot://attach', 'https://attach'))).toMatch(/not an attach/);
    expect(refusal(good.replace('copilot://attach?', 'copilot://detach?'))).toMatch(
      /not an attach/,
    );
    expect(refusal(withParam(good, 'v', '2'))).toMatch(/version/);
    expect(refusal(withParam(good, 'v', null))).toMatch(/version/);
    expect(refusal(`${good}&exec=rm`)).toMatch(/unknown parameter/);
    expect(refusal(`${good}&jm=evil@attacker.example`)).toMatch(/more than once/);
    expect(refusal(`${good}#x`)).toMatch(/fragment/);
  });

  it('refuses a link over the length cap before reading it', () => {
    expect(refusal(`${good}&name=${'a'.repeat(MAX_ATTACH_LINK_LENGTH)}`)).toMatch(/too long/);
  });

  it('refuses a CA that does not match the fingerprint, a fingerprint alone, a non-CA, garbage', () => {
    expect(refusal(withParam(good, 'fp', 'ab'.repeat(32)))).toMatch(/does not match/);
    expect(refusal(withParam(good, 'ca', null))).toMatch(/go together/);
    expect(refusal(withParam(good, 'fp', 'xyz'))).toMatch(/64 hex/);
    const leafDer = Buffer.from(new crypto.X509Certificate(LEAF_PEM).raw);
    const leafFp = crypto.createHash('sha256').update(leafDer).digest('hex');
    const leafLink = withParam(withParam(good, 'ca', leafDer.toString('base64url')), 'fp', leafFp);
    expect(refusal(leafLink)).toMatch(/not a CA/);
    expect(refusal(withParam(good, 'ca', 'AAAA'))).toMatch(/does not parse/);
    expect(refusal(withParam(good, 'ca', 'a+b/c='))).toMatch(/base64url/);
  });

  it('refuses a manager key that is not an RSA public key of 2048 bits or more', () => {
    expect(refusal(withParam(good, 'key', 'AAAA'))).toMatch(/does not parse/);
    const ec = crypto
      .generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ format: 'der', type: 'spki' });
    expect(refusal(withParam(good, 'key', Buffer.from(ec).toString('base64url')))).toMatch(/RSA/);
  });

  it.each([
    ['name', 'evil\u202Eexe.txt', /control characters/],
    ['name', 'line\nbreak', /control characters/],
    ['name', 'x'.repeat(81), /longer than/],
    ['name', '', /missing/],
    ['xmpp', 'host;rm -rf /', /host name/],
    ['xmpp', 'host:99999', /port/],
    ['domain', 'example.org:5222', /domain/],
    ['domain', '../etc', /domain/],
    ['jm', 'not a jid', /manager addresses/],
    ['jm', 'jm@example.org/../../x y', /manager addresses/],
    ['jm', Array.from({ length: 17 }, (_, i) => `jm${i}@example.org`).join(','), /more than 16/],
    ['reg', 'https://registry.example.org', /image registries/],
    ['reg', 'Registry.Example.org', /image registries/],
    ['admin', 'admin', /admin accounts/],
    // A right-to-left override in the local part makes the consent screen show
    // "…moc.rekcatta@cern.ch" for an account of attacker.com.
    ['admin', 'x\u202Ehc.nrec@attacker.com', /admin accounts/],
    ['jm', 'jm\u202Ehc.nrec@attacker.com', /manager addresses/],
    ['jm', 'jm\u0000@example.org', /manager addresses/],
    ['admin', 'admin@example.org/desk\u2067', /admin accounts/],
    ['mon', '', /Monitor address is empty/],
    ['mon', 'monitor', /Monitor addresses/],
    ['mon', 'mon\u202Ehc.nrec@attacker.com', /Monitor addresses/],
    ['mon', 'a@example.org b@example.org', /Monitor addresses/],
    ['mon', Array.from({ length: 17 }, (_, i) => `m${i}@example.org`).join(','), /more than 16/],
    ['invite', 'abc', /invite/],
    ['invite', 'token with spaces', /invite/],
    ['invite', '<xml>injection</xml>', /invite/],
  ])('refuses %s=%j', (name, value, why) => {
    expect(refusal(withParam(good, name, value))).toMatch(why);
  });
});
