import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, applySettingsPatch, publicSettings } from '@copilot/contract/settings';
import type { AgentSettings, SetSettingsResult } from '@copilot/contract/ui-contract';
import { silentLogger } from '@copilot/base/logger';
import { buildAttachLink, formatAttachFile, parseAttachLink } from '@copilot/protocol/attach-link';
import { RegistrationError, type RegistrationOptions } from '@copilot/transport/xmpp-register';
import {
  attachCommands,
  attachProject,
  randomPassword,
  randomUsername,
} from '@copilot/core/attach-project';

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
const KEY = crypto
  .generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ format: 'pem', type: 'spki' })
  .toString();

const LINK = buildAttachLink({
  projectName: 'Test project',
  xmppServer: 'xmpp.example.org:5223',
  xmppDomain: 'example.org',
  managerJids: ['jm@example.org'],
  caCertificatePem: CA_PEM,
  managerPublicKeyPem: KEY,
  allowedImageRegistries: ['registry.example.org/copilot'],
  adminAccounts: ['admin@example.org'],
  inviteToken: 'invite-token-123',
});

function harness(register: (options: RegistrationOptions) => Promise<void>) {
  let settings: AgentSettings = { ...DEFAULT_SETTINGS };
  const calls: RegistrationOptions[] = [];
  const commands = attachCommands({
    settings: () => settings,
    logger: silentLogger,
    register: async (options) => {
      calls.push(options);
      await register(options);
    },
    apply: (patch): Promise<SetSettingsResult> => {
      const applied = applySettingsPatch(settings, patch);
      if (applied.errors.length > 0) return Promise.resolve({ ok: false, errors: applied.errors });
      settings = applied.settings;
      return Promise.resolve({ ok: true, settings: publicSettings(settings) });
    },
  });
  return { commands, calls, settings: () => settings };
}

describe('attachProject', () => {
  it('registers with the invite over TLS with the pinned CA, then applies secure, pinned settings', async () => {
    const h = harness(() => Promise.resolve());
    const result = await h.commands.attachProject(LINK);
    expect(result.ok).toBe(true);
    const [call] = h.calls;
    expect(call).toMatchObject({
      host: 'xmpp.example.org',
      port: 5223,
      domain: 'example.org',
      inviteToken: 'invite-token-123',
      requireTls: true,
    });
    expect(call?.ca).toContain('BEGIN CERTIFICATE');
    expect(call?.caFingerprint256).toMatch(/^[0-9a-f]{64}$/);
    const s = h.settings();
    expect(s).toMatchObject({
      projectName: 'Test project',
      jobManagerAddress: 'jm@example.org',
      xmppServer: 'xmpp.example.org:5223',
      xmppUsername: call?.username,
      xmppPassword: call?.password,
      requireTls: true,
      secureMode: true,
      allowedImageRegistries: 'registry.example.org/copilot',
      adminAccounts: 'admin@example.org',
    });
    expect(s.xmppCaCertificate).toContain('BEGIN CERTIFICATE');
    expect(s.jobManagerPublicKey).toContain('BEGIN PUBLIC KEY');
    expect(result).toEqual({
      ok: true,
      projectName: 'Test project',
      jid: `${call?.username}@example.org`,
    });
  });

  it("sets the agent's monitorAddress from the link's Monitor, and clears it for a link without one", async () => {
    const withMonitor = buildAttachLink({
      ...parseAttachLink(LINK),
      monitorAddresses: ['monitor@example.org'],
    });
    const h = harness(() => Promise.resolve());
    expect((await h.commands.attachProject(withMonitor)).ok).toBe(true);
    expect(h.settings().monitorAddress).toBe('monitor@example.org');
    expect((await h.commands.previewAttachLink(withMonitor)).monitorAddresses).toEqual([
      'monitor@example.org',
    ]);
    expect((await h.commands.previewAttachLink(LINK)).monitorAddresses).toEqual([]);
    expect((await h.commands.attachProject(LINK)).ok).toBe(true);
    expect(h.settings().monitorAddress).toBe('');
  });

  it('takes a .copilot file text too, and previews without registering', async () => {
    const h = harness(() => Promise.resolve());
    const preview = await h.commands.previewAttachLink(formatAttachFile(LINK, 'Test project'));
    expect(preview).toMatchObject({
      projectName: 'Test project',
      managers: ['jm@example.org'],
      secureMode: true,
      replacesProject: null,
      allowedImageRegistries: ['registry.example.org/copilot'],
    });
    expect(h.calls).toHaveLength(0);
    await expect(h.commands.previewAttachLink('copilot://attach?v=9')).rejects.toThrow(
      /attach link/,
    );
  });

  it('tries another name when the name is taken, and reports a refused invite without applying', async () => {
    let first = true;
    const h = harness(() => {
      if (first) {
        first = false;
        return Promise.reject(new RegistrationError('conflict', 'taken'));
      }
      return Promise.resolve();
    });
    expect((await h.commands.attachProject(LINK)).ok).toBe(true);
    expect(h.calls).toHaveLength(2);
    expect(h.calls[0]?.username).not.toBe(h.calls[1]?.username);

    const refused = harness(() => Promise.reject(new RegistrationError('forbidden', 'bad invite')));
    const result = await refused.commands.attachProject(LINK);
    expect(result).toMatchObject({ ok: false });
    expect(refused.settings().jobManagerAddress).toBe('');
  });

  it('refuses a bad link without registering', async () => {
    const calls: unknown[] = [];
    const result = await attachProject('copilot://attach?v=1&name=x', {
      logger: silentLogger,
      register: (o) => Promise.resolve(void calls.push(o)),
      apply: () => Promise.reject(new Error('not called')),
    });
    expect(result.ok).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('makes unguessable names and passwords that pass the settings checks', () => {
    const name = randomUsername();
    expect(name).toMatch(/^v-[a-z2-7]{16}$/);
    expect(randomUsername()).not.toBe(name);
    expect(randomPassword().length).toBeGreaterThanOrEqual(32);
  });
});
