/**
 * The desktop's projects (src/core/project-set.ts): the first project is the settings store's,
 * as before; the others are kept in the agent's data dir (projects.json) with their passwords
 * sealed by the OS secret store (safeStorage: Keychain, DPAPI, libsecret/kwallet), like the first
 * project's. Detaching the first project removes its sealed password from the settings store.
 */
import type { AgentHostOptions } from '../core/agent-host';
import type { Agent, AgentOptions } from '../core/agent-options';
import { createProjectSet, type ProjectSet } from '../core/project-set';
import { fileProjectStore, type SecretSealer } from '../core/project-store';
import type { SecretStorage, SettingsRepository } from './settings-repository';

/** safeStorage as a sealer: undefined (the password stays plain, 0600) while it cannot encrypt. */
export function safeStorageSealer(secrets: SecretStorage): SecretSealer {
  return {
    seal: (plain) => {
      try {
        if (!secrets.isEncryptionAvailable()) return undefined;
        return secrets.encryptString(plain).toString('base64');
      } catch {
        return undefined;
      }
    },
    unseal: (sealed) => secrets.decryptString(Buffer.from(sealed, 'base64')),
  };
}

/** The desktop's agent factory: a project set over createAgent. */
export function desktopProjectSet(
  createAgent: (options: AgentOptions) => Agent,
  parts: { secrets: SecretStorage; settings: SettingsRepository; log?: (message: string) => void },
): (options: AgentHostOptions) => ProjectSet {
  return (options) =>
    createProjectSet({
      base: options,
      createAgent,
      store: fileProjectStore(options.dataDir, {
        secrets: safeStorageSealer(parts.secrets),
        ...(parts.log ? { log: parts.log } : {}),
      }),
      firstProject: { forget: () => parts.settings.forgetPassword() },
    });
}
