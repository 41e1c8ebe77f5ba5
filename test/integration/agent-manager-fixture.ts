// A real Generic Job and Storage Manager configuration for the agent's integration tests, built
// through the manager's own config reader so that new manager settings get their defaults.
import { ConfigValues } from '@copilot/protocol/config-file';
import { configFromValues, type JobManagerConfig } from '@manager/job-manager/manager-config';
import type { ProsodyServer } from '@test/harness';

export interface ManagerFixtureOptions {
  prosody: ProsodyServer;
  username: string;
  password: string;
  stateDir: string;
  redisUrl: string;
  role?: 'all' | 'job' | 'storage';
  resource?: string;
  storageManagerAddress?: string;
}

export function managerConfigFor(options: ManagerFixtureOptions): JobManagerConfig {
  const values = new Map<string, string>([
    ['JM_JABBER_SERVER', options.prosody.service],
    ['JM_JABBER_DOMAIN', options.prosody.domain],
    ['JM_JABBER_ID', options.username],
    ['JM_JABBER_PASSWORD', options.password],
    ['JM_JABBER_RESOURCE', options.resource ?? 'generic'],
    ['JM_ROLE', options.role ?? 'all'],
    ['JM_STATE_DIR', options.stateDir],
    ['JM_REDIS_SERVER', options.redisUrl],
    ['JM_STORAGE_PORT', '0'],
    ['JM_STORAGE_BIND', '127.0.0.1'],
    ['JM_LEASE_SECONDS', '600'],
  ]);
  if (options.storageManagerAddress !== undefined) {
    values.set('JM_STORAGE_MANAGER_ADDRESS', options.storageManagerAddress);
  }
  return configFromValues(new ConfigValues([values]));
}
