/**
 * copilot-agent: the headless Co-Pilot agent.
 *
 *   npx tsx src/cli/copilot-agent.ts --config /etc/copilot/copilot-agent.conf [--VARIABLE=value]
 *
 * Runs until SIGINT/SIGTERM; a job in hand is left on disk and resumed by the next start. With
 * AGENT_GUI_RPC_PORT set, the UI contract is served on localhost (token in the work dir).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent } from '../core/agent';
import { createProjectSet } from '../core/project-set';
import { hostContainerEngine } from '../core/docker-socket';
import { isEntryPoint } from '../base/cli-runner';
import { errorReport } from '../base/errors';
import { startGuiRpcServer, type GuiRpcServer } from '../rpc/gui-rpc-server';
import { formatLogRecord } from '../base/logger';
import {
  ConfigError,
  applySettingsOverlay,
  loadAgentConfig,
  saveSettingsOverlay,
} from './agent-config';
import { withConfigFileSettings } from './config-file-settings';
import { attachFromCommandLine, withoutAttachArgument } from './attach-command';
import { headlessFirstProject } from './headless-projects';

const USAGE = `usage: copilot-agent [--config FILE] [--attach LINK|FILE] [--VARIABLE_NAME=value ...]

  --attach LINK|FILE       join a project with its attach link (copilot://attach?…) or .copilot
                           file: creates this computer's XMPP account with the link's invite,
                           writes AGENT_WORK_DIR/project.conf (0600), then runs. Without a project
                           and with AGENT_GUI_RPC_PORT set, the agent starts and waits for a link
                           pasted into the UI's first-run screen.

Configuration variables (config file, environment, or --NAME=value):
  JM_JABBER_ADDRESS        Jabber ID where job requests are broadcast (required)
  AGENT_JABBER_SERVER      XMPP server, host or host:port (required)
  AGENT_JABBER_DOMAIN      XMPP domain (required unless AGENT_JABBER_ID has one)
  AGENT_JABBER_ID          the agent's Jabber ID (required)
  AGENT_JABBER_PASSWORD    its password (required)
  AGENT_WORK_DIR           writeable work dir: jobs, history, logs, state (required)
  HB_CHAT_SERVER, HB_CHAT_ROOM   Heartbeat MUC (optional)
  MON_JABBER_ADDRESS       Co-Pilot Monitor (optional)
  AGENT_CPU_LIMIT_PERCENT, AGENT_MEMORY_LIMIT_MB, AGENT_DISK_LIMIT_MB, AGENT_JOB_SLOTS,
  AGENT_JOB_IMAGE, AGENT_WALL_CLOCK_LIMIT_SECONDS, AGENT_GUI_RPC_PORT, AGENT_LOG_LEVEL,
  AGENT_RUN_ONLY_WHEN_IDLE, AGENT_IDLE_MINUTES, AGENT_JABBER_RESOURCE
  AGENT_SCHEDULE, AGENT_RUN_ON_BATTERY, AGENT_MIN_BATTERY_PERCENT, AGENT_THERMAL_LIMIT_C,
  AGENT_BUSY_CPU_PERCENT   when to compute (time windows, battery, CPU temperature, busy CPU)
  AGENT_SECURE_MODE, JM_PUBLIC_KEY   secure mode (1, and the job manager's RSA public key PEM)
  AGENT_JABBER_CA_FILE, AGENT_REQUIRE_TLS   CA for the XMPP server's certificate; 1 = TLS or nothing
  AGENT_GUI_STATIC_DIR     the built UI served with the GUI RPC (default: dist/renderer)
  AGENT_WIRE_FORMAT        auto (default: each peer in the form it sends), report, namespaced, both
  AGENT_WIRE_FORMAT_NEW_PEERS   what auto sends a peer not heard from: both (default), report,
                           namespaced

Over the GUI RPC, the policy settings (CPU, memory, disk, slots, idle, pause) can be changed and
are kept in AGENT_WORK_DIR/agent-settings.json; the account and manager come from this file only.
`;

/** The React UI built by `npm run build:renderer`, next to the bundle or in the checkout. */
function builtRendererDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../renderer'), path.resolve(here, '../../dist/renderer')];
  return candidates.find(
    (dir) => fs.existsSync(path.join(dir, 'index.html')) && fs.existsSync(path.join(dir, 'assets')),
  );
}

function configSourceName(argv: readonly string[]): string {
  const flag = argv.find((arg) => arg.startsWith('--config='));
  const index = argv.indexOf('--config');
  const named = flag?.slice('--config='.length) ?? (index >= 0 ? argv[index + 1] : undefined);
  return named ?? 'the agent config file';
}

export interface RunningAgent {
  stop(): Promise<void>;
  rpc: GuiRpcServer | undefined;
}

/** Starts the agent from argv; resolves once it runs. Used by main() and by tests. */
export async function startHeadlessAgent(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<RunningAgent> {
  const config = loadAgentConfig({ argv, env, allowUnattached: true });
  const settings = applySettingsOverlay(config.settings, config.workDir);
  // One agent per attached project (src/core/project-set.ts); the first is the config's.
  const agent = createProjectSet({
    createAgent,
    firstProject: headlessFirstProject(config.workDir, configSourceName(argv)),
    base: {
      settings,
      dataDir: config.workDir,
      persistSettings: (next) => saveSettingsOverlay(next, config.workDir),
      jobImage: config.jobImage,
      wallClockLimitSeconds: config.wallClockLimitSeconds,
      monitorAddress: config.monitorAddress,
      resource: config.resource,
      logLevel: config.logLevel,
      session: { wireFormat: config.wireFormat },
      echoLog: (record) => process.stderr.write(formatLogRecord(record) + '\n'),
      // The container engine is looked for with the same environment (DOCKER_HOST, XDG_RUNTIME_DIR…).
      engine: hostContainerEngine(env),
    },
  });
  await agent.start();
  let rpc: GuiRpcServer | undefined;
  if (config.guiRpcPort !== undefined) {
    const staticDir = config.variable('AGENT_GUI_STATIC_DIR') ?? builtRendererDir();
    try {
      const attach = { workDir: config.workDir, logger: agent.logger.child('attach') };
      rpc = await startGuiRpcServer(withConfigFileSettings(agent, configSourceName(argv), attach), {
        port: config.guiRpcPort,
        host: config.guiRpcHost,
        tokenFile: path.join(config.workDir, 'gui-rpc-token'),
        staticDir,
      });
    } catch (error) {
      // The caller exits: stop the agent first, so that a job it took is checkpointed and its
      // container does not outlive the process.
      await agent.stop();
      throw error;
    }
    agent.logger.info('GUI RPC listening', { url: rpc.url });
  }
  return {
    rpc,
    async stop() {
      await rpc?.close();
      await agent.stop();
    },
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let running: RunningAgent;
  try {
    if (!(await attachFromCommandLine(argv, process.env))) return 1;
    running = await startHeadlessAgent(withoutAttachArgument(argv));
  } catch (error) {
    // An expected error (the user's to fix) is one line; anything else is a bug: its stack.
    process.stderr.write(`copilot-agent: ${errorReport(error)}\n`);
    return error instanceof ConfigError ? 2 : 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`copilot-agent: ${signal}, stopping\n`);
      running.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}

// process.exit, not runIfEntryPoint's exitCode: a stopped agent may leave handles open.
if (isEntryPoint(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`copilot-agent: ${errorReport(error)}\n`);
      process.exit(1);
    },
  );
}
