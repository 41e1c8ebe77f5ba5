// The settings the integration tests share for a manager and an agent on a harness Prosody:
// the manager is account `jm` with storage on loopback, the agent runs jobs without waiting for
// idle. Each test adds what it is about (lease length, Redis, secure mode, limits…).
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentSettings } from '@copilot/contract/ui-contract';
import type { ProsodyServer } from '@test/harness';

export const MANAGER_PASSWORD = 'jm-secret';

export function localManagerValues(
  prosody: Pick<ProsodyServer, 'port' | 'domain'>,
  stateDir: string,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    JM_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
    JM_JABBER_DOMAIN: prosody.domain,
    JM_JABBER_ID: 'jm',
    JM_JABBER_PASSWORD: MANAGER_PASSWORD,
    JM_STATE_DIR: stateDir,
    JM_STORAGE_PORT: '0',
    JM_STORAGE_BIND: '127.0.0.1',
    ...extra,
  };
}

export function localAgentSettings(
  prosody: Pick<ProsodyServer, 'port' | 'domain' | 'jid'>,
  username: string,
  password: string,
  overrides: Partial<AgentSettings> = {},
): AgentSettings {
  return {
    ...DEFAULT_SETTINGS,
    jobManagerAddress: prosody.jid('jm'),
    xmppServer: `127.0.0.1:${prosody.port}`,
    xmppDomain: prosody.domain,
    xmppUsername: username,
    xmppPassword: password,
    runOnlyWhenIdle: false,
    ...overrides,
  };
}
