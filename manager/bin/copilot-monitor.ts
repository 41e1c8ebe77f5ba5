// copilot-monitor: the Co-Pilot Monitor (4.4) with its Prometheus endpoint and dashboard.
import { isExpectedError } from '@copilot/base/errors';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import { consoleLogger } from '@copilot/base/logger';
import { startMonitor } from '@manager/monitor/copilot-monitor';
import { DEFAULT_MONITOR_CONFIG_PATH, loadMonitorConfig } from '@manager/monitor/monitor-config';

export const USAGE = `Usage: copilot-monitor [--config=PATH] [--NAME=VALUE ...] [--verbose]

Receives reportEvent, reportEventDuration and reportEventValue over XMPP and sends them to
Carbon (Graphite), serves them in Prometheus format at /metrics and shows a dashboard at /.

Configuration (file ${DEFAULT_MONITOR_CONFIG_PATH}, then environment, then --NAME=VALUE):
  MON_JABBER_SERVER, MON_JABBER_DOMAIN, MON_JABBER_ID, MON_JABBER_PASSWORD   XMPP account
  CARBON_SERVER (127.0.0.1), CARBON_PORT (2003)       Carbon's plaintext line receiver
  MON_SAMPLE_SECONDS (5)                              sample period for counts and durations
  MON_HTTP_HOST (127.0.0.1), MON_HTTP_PORT (8000)     dashboard and /metrics
  MON_CHAT_SERVER, MON_CHAT_ROOM (or HB_CHAT_*)       Heartbeat room whose members are shown
  MON_POLL_SECONDS (10)                               how often their load is asked for
  MON_ALLOWED_SENDERS                                 JIDs whose reports are accepted: full,
                                                      bare (any resource) or *@domain; default
                                                      JM_JABBER_ADDRESS/JM_JABBER_ID/AGENT_JABBER_ID
                                                      if the configuration sets them, else nobody
  MON_MAX_SERIES (5000)                               distinct series kept; new ones beyond it
                                                      are dropped
  MON_CONSOLE_JABBER_ID, MON_CONSOLE_JABBER_PASSWORD  the fleet console's own account (server and
  (MON_CONSOLE_JABBER_SERVER, _DOMAIN: MON_JABBER_*)  domain as the Monitor's unless given); list it
                                                      in the agents' AGENT_ADMIN_JIDS
  MON_ADMIN_TOKEN_FILE                                the dashboard's admin token (one line, 24+
                                                      characters); unset, the console is read-only
  MON_ATTACH_LINK_FILE                                the .copilot file of copilot-attach-link --out:
                                                      the dashboard shows the link and its QR code
                                                      to admin token holders (needs the token)`;

/** Runs the Monitor until SIGINT/SIGTERM; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let loaded;
  try {
    loaded = loadMonitorConfig(argv, process.env);
  } catch (error) {
    if (!isExpectedError(error)) throw error;
    process.stderr.write(`copilot-monitor: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  const logger = consoleLogger('copilot-monitor', loaded.options.has('verbose') ? 'debug' : 'info');
  const monitor = await startMonitor({ config: loaded.config, logger });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  logger.info('stopping');
  await monitor.stop();
  return 0;
}

runIfEntryPoint(import.meta.url, 'copilot-monitor', main);
