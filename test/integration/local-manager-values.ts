// The job manager settings the integration tests share: account `jm` on a harness Prosody and
// storage on loopback. Each test adds what it is about (lease length, Redis, secure mode…).
import type { ProsodyServer } from '../harness';

export const MANAGER_PASSWORD = 'jm-secret';

export function localManagerValues(
  prosody: ProsodyServer,
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
