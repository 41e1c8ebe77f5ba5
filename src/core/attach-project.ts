/**
 * Attaching this computer to a project with one link (src/protocol/attach-link.ts): used by the
 * headless `copilot-agent --attach`, the UI's first-run screen and the desktop's copilot://
 * handler alike. The agent picks a random user name and a strong password, creates its own
 * account with the link's invite (in-band registration, src/transport/xmpp-register.ts), and
 * the settings it then applies turn on TLS with the pinned CA, and secure mode when the link
 * has the manager's key. The password goes where the host keeps xmppPassword (safeStorage on
 * the desktop, the headless agent's 0600 project file).
 */
import crypto from 'node:crypto';
import type {
  AgentSettings,
  AttachPreview,
  AttachResult,
  SetSettingsResult,
} from '../contract/ui-contract';
import { errorMessage } from '../base/errors';
import type { Logger } from '../base/logger';
import {
  ATTACH_LINK_PREFIX,
  parseAttachFile,
  parseAttachLink,
  type AttachLink,
} from '../protocol/attach-link';
import {
  registerWithInvite,
  RegistrationError,
  type RegistrationOptions,
} from '../transport/xmpp-register';

/** A link, or the text of a `.copilot` file holding one. */
export function readAttachText(text: string): AttachLink {
  return text.trim().toLowerCase().startsWith(ATTACH_LINK_PREFIX)
    ? parseAttachLink(text)
    : parseAttachFile(text);
}

export function previewOf(link: AttachLink, current: AgentSettings | undefined): AttachPreview {
  const configured = current !== undefined && current.jobManagerAddress !== '';
  return {
    projectName: link.projectName,
    xmppServer: link.xmppServer,
    xmppDomain: link.xmppDomain,
    managers: [...link.managerJids],
    secureMode: link.managerPublicKeyPem !== undefined,
    caFingerprint256: link.caFingerprint256 ?? null,
    allowedImageRegistries: [...link.allowedImageRegistries],
    adminAccounts: [...link.adminAccounts],
    monitorAddresses: [...(link.monitorAddresses ?? [])],
    replacesProject: configured ? current.projectName || current.jobManagerAddress : null,
  };
}

/** A user name no one guesses: `v-` and 16 base32 letters. */
export function randomUsername(random: (size: number) => Buffer = crypto.randomBytes): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return `v-${[...random(16)].map((byte) => alphabet[byte % 32]).join('')}`;
}

export function randomPassword(random: (size: number) => Buffer = crypto.randomBytes): string {
  return random(24).toString('base64url');
}

/** The settings an attached project runs with: TLS with the pinned CA, secure mode with a key. */
export function attachedSettings(
  link: AttachLink,
  account: { username: string; password: string },
): Partial<AgentSettings> {
  return {
    projectName: link.projectName,
    jobManagerAddress: link.managerJids.join(' '),
    xmppServer: link.xmppServer,
    xmppDomain: link.xmppDomain,
    xmppUsername: account.username,
    xmppPassword: account.password,
    requireTls: true,
    xmppCaCertificate: link.caCertificatePem?.trim() ?? '',
    secureMode: link.managerPublicKeyPem !== undefined,
    jobManagerPublicKey: link.managerPublicKeyPem?.trim() ?? '',
    allowedImageRegistries: link.allowedImageRegistries.join(' '),
    adminAccounts: link.adminAccounts.join(' '),
    // The project's Monitor, or none: a Monitor of a project replaced here gets no reports.
    monitorAddress: (link.monitorAddresses ?? []).join(' '),
  };
}

function hostAndPort(server: string): { host: string; port: number } {
  const match = /^(.*?)(?::(\d+))?$/.exec(server);
  const host = (match?.[1] ?? server).replace(/^\[(.*)\]$/, '$1');
  return { host, port: match?.[2] ? Number(match[2]) : 5222 };
}

export interface AttachDeps {
  /** Applies the settings (the agent's setSettings, or the headless host's file and agent). */
  apply(patch: Partial<AgentSettings>): Promise<SetSettingsResult>;
  logger: Logger;
  register?: (options: RegistrationOptions) => Promise<void>;
  random?: (size: number) => Buffer;
}

/** Registers with a fresh name, another one if the name is taken (the invite is kept then). */
async function registerAccount(
  link: AttachLink,
  deps: AttachDeps,
): Promise<{ username: string; password: string }> {
  const register = deps.register ?? registerWithInvite;
  const password = randomPassword(deps.random);
  const { host, port } = hostAndPort(link.xmppServer);
  for (let attempt = 1; ; attempt += 1) {
    const username = randomUsername(deps.random);
    try {
      await register({
        host,
        port,
        domain: link.xmppDomain,
        username,
        password,
        inviteToken: link.inviteToken,
        ca: link.caCertificatePem,
        caFingerprint256: link.caFingerprint256,
        requireTls: true,
      });
      return { username, password };
    } catch (error) {
      if (!(error instanceof RegistrationError && error.condition === 'conflict') || attempt >= 3) {
        throw error;
      }
    }
  }
}

/** Attaches: parse, register, apply. Never throws: a failure is `{ ok: false, error }`. */
export async function attachProject(text: string, deps: AttachDeps): Promise<AttachResult> {
  let link: AttachLink;
  try {
    link = readAttachText(text);
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
  let account: { username: string; password: string };
  try {
    account = await registerAccount(link, deps);
  } catch (error) {
    deps.logger.warn('attach: registration failed', { project: link.projectName });
    return { ok: false, error: errorMessage(error) };
  }
  const jid = `${account.username}@${link.xmppDomain}`;
  deps.logger.info('attach: account created', { project: link.projectName, jid });
  const applied = await deps.apply(attachedSettings(link, account));
  if (!applied.ok) {
    const first = applied.errors[0];
    return { ok: false, error: `settings refused: ${first?.field}: ${first?.message}` };
  }
  return { ok: true, projectName: link.projectName, jid };
}

/** The contract's previewAttachLink and attachProject over an agent's settings. */
export function attachCommands(deps: AttachDeps & { settings: () => AgentSettings }): {
  previewAttachLink: (text: string) => Promise<AttachPreview>;
  attachProject: (text: string) => Promise<AttachResult>;
} {
  return {
    previewAttachLink: (text) => {
      try {
        return Promise.resolve(previewOf(readAttachText(String(text)), deps.settings()));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    attachProject: (text) => attachProject(String(text), deps),
  };
}
