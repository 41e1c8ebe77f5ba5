/**
 * copilot-jobmanager-generic [--config path] [--role all|job|storage] [--VARIABLE=value …]
 *
 * Runs the Generic Job and Storage Manager until SIGINT/SIGTERM. See manager/job-manager/manager-config.ts
 * for the variables.
 */
import { batchedConsoleLogger } from '@copilot/base/batched-log-sink';
import { managerSecureLayers } from '@copilot/transport/secure-layer';
import { sessionTlsFromConfig } from '@copilot/transport/tls-options';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import { startJobManager } from '@manager/job-manager/job-manager';
import { configFromValues, loadConfigValues } from '@manager/job-manager/manager-config';
import { ConfigError, type ConfigValues } from '@copilot/protocol';

const USAGE = `usage: copilot-jobmanager-generic [--config path] [--role all|job|storage] [--VARIABLE=value ...]
  Variables (config file, environment or --VARIABLE=value): JM_JABBER_SERVER, JM_JABBER_DOMAIN,
  JM_JABBER_ID, JM_JABBER_PASSWORD, JM_JABBER_RESOURCE, JM_STATE_DIR, JM_DONE_JOB_DIR,
  JM_REDIS_SERVER, JM_WAITING_JOBS_LIST, JM_JOB_REQUIRE_FILE, MON_JABBER_ADDRESS, JM_STORAGE_URL,
  JM_STORAGE_PORT, JM_LEASE_SECONDS, JM_MAX_UPLOAD_MB, JM_MAX_JOB_MB, JM_STORAGE_MANAGER_ADDRESS,
  JM_CHIRP_SERVER, JM_CHIRP_WORK_DIR, JM_CHIRP_ORIGINAL_AGENTS, JM_SECURE_MODE, JM_PRIVATE_KEY,
  JM_JABBER_CA_FILE, JM_REQUIRE_TLS.
`;

/** JM_LOG_BATCH_MS: how long info lines may wait to be written (0: each at once). */
function logBatchMs(values: ConfigValues): number | undefined {
  const text = values.optional('JM_LOG_BATCH_MS');
  if (text === undefined) return undefined;
  if (!/^\d{1,4}$/.test(text) || Number(text) > 1000) {
    throw new ConfigError(
      'JM_LOG_BATCH_MS must be a whole number of ms from 0 to 1000',
      'JM_LOG_BATCH_MS',
    );
  }
  return Number(text);
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const loaded = loadConfigValues(argv);
  const unknown = [...loaded.options.keys()].filter(
    (name) => name !== 'role' && name !== 'log-level',
  );
  if (unknown.length > 0 || loaded.positional.length > 0) {
    process.stderr.write(
      `unknown arguments: ${[...unknown.map((n) => `--${n}`), ...loaded.positional].join(' ')}\n${USAGE}`,
    );
    return 2;
  }
  const config = configFromValues(loaded.values);
  const level = loaded.options.get('log-level') === 'debug' ? 'debug' : 'info';
  const logger = batchedConsoleLogger('jobmanager', level, logBatchMs(loaded.values));
  // Secure mode (JM_SECURE_MODE, JM_PRIVATE_KEY) and TLS (JM_JABBER_CA_FILE, JM_REQUIRE_TLS).
  const variable = (name: string): string | undefined => loaded.values.optional(name);
  const session = {
    layers: managerSecureLayers(variable, `${config.xmpp.username}@${config.xmpp.domain}`),
    tls: sessionTlsFromConfig(variable('JM_JABBER_CA_FILE'), variable('JM_REQUIRE_TLS')),
  };
  const manager = await startJobManager(config, { logger, session });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info('stopping', { signal });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await manager.stop();
  return 0;
}

runIfEntryPoint(import.meta.url, 'copilot-jobmanager-generic', main);
