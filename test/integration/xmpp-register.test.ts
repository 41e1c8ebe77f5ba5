// In-band registration with an invite token (src/transport/xmpp-register.ts) against a real
// Prosody 0.12 with mod_invites, mod_invites_register and mod_register_ibr, over STARTTLS with
// the server's own certificate as the pinned CA.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWithInvite, RegistrationError } from '@copilot/transport/xmpp-register';
import { connectXmpp, startProsody, type ProsodyServer } from '@test/harness';

let prosody: ProsodyServer;
let ca: string;
let fingerprint: string;

beforeAll(async () => {
  prosody = await startProsody({ tls: true, invites: true });
  ca = fs.readFileSync(prosody.caCertPath ?? '', 'utf8');
  fingerprint = new crypto.X509Certificate(ca).fingerprint256;
}, 60_000);

afterAll(async () => {
  await prosody?.stop();
});

function invite(): Promise<string> {
  if (!prosody.createInvite) throw new Error('the harness Prosody makes no invites');
  return prosody.createInvite();
}

async function failure(promise: Promise<unknown>): Promise<RegistrationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistrationError) return error;
    throw error;
  }
  throw new Error('registration succeeded');
}

const base = () => ({
  host: '127.0.0.1',
  port: prosody.port,
  domain: prosody.domain,
  ca,
  caFingerprint256: fingerprint,
});

describe('registration with an invite', () => {
  it('creates an account that can log in, once per invite', async () => {
    const token = await invite();
    const password = crypto.randomBytes(18).toString('base64url');
    await registerWithInvite({ ...base(), username: 'volunteer-a', password, inviteToken: token });
    const session = await connectXmpp(prosody, { username: 'volunteer-a', password });
    expect(session.jid.startsWith(`volunteer-a@${prosody.domain}/`)).toBe(true);
    await session.stop();
    const again = await failure(
      registerWithInvite({ ...base(), username: 'volunteer-b', password, inviteToken: token }),
    );
    expect(again.condition).toBe('forbidden');
  });

  it('refuses an unknown token, and without one the server refuses registration', async () => {
    const unknown = await failure(
      registerWithInvite({
        ...base(),
        username: 'volunteer-c',
        password: 'x'.repeat(20),
        inviteToken: 'not-a-real-token',
      }),
    );
    expect(unknown.condition).toBe('forbidden');
    await expect(
      connectXmpp(prosody, { username: 'volunteer-c', password: 'x'.repeat(20) }),
    ).rejects.toThrow();
  });

  it('says conflict for a taken name and keeps the invite for another name', async () => {
    const token = await invite();
    const taken = await failure(
      registerWithInvite({
        ...base(),
        username: 'volunteer-a',
        password: 'p'.repeat(20),
        inviteToken: token,
      }),
    );
    expect(taken.condition).toBe('conflict');
    await registerWithInvite({
      ...base(),
      username: 'volunteer-d',
      password: 'p'.repeat(20),
      inviteToken: token,
    });
  });

  it('refuses a server whose certificate is not under the pinned CA', async () => {
    const token = await invite();
    const pinned = await failure(
      registerWithInvite({
        ...base(),
        caFingerprint256: 'ab'.repeat(32),
        username: 'volunteer-e',
        password: 'p'.repeat(20),
        inviteToken: token,
      }),
    );
    expect(pinned.condition).toBe('tls');
    const untrusted = await failure(
      registerWithInvite({
        ...base(),
        ca: undefined,
        username: 'volunteer-e',
        password: 'p'.repeat(20),
        inviteToken: token,
      }),
    );
    expect(untrusted.condition).toBe('tls');
  });
});
