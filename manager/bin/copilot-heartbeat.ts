// copilot-heartbeat: remote introspection of the components in the Heartbeat room (4.5.4).
import { CopilotError, errorMessage, isExpectedError } from '@copilot/base/errors';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import { readConfigFile } from '@copilot/protocol/config-file-source';
import { ConfigValues, parseConfigArgs, STATUS_COMPONENTS } from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import { consoleLogger, silentLogger } from '@copilot/base/logger';
import {
  HEARTBEAT_CLIENT_STATUS,
  HeartbeatRoom,
  type HeartbeatReply,
} from '@copilot/heartbeat/heartbeat-room';
import { shortUniqueNick } from '@copilot/heartbeat/room-nick';
import {
  formatColumns,
  formatPingTable,
  formatStatusTable,
  parseStatus,
} from '@copilot/heartbeat/status-table';
import { resolveTargets } from '@copilot/heartbeat/target-resolution';
import { sessionOptionsFor } from '@copilot/heartbeat/xmpp-account';

export const DEFAULT_CONFIG_PATH = '/etc/copilot/copilot-heartbeat.conf';

export const USAGE = `Usage: copilot-heartbeat [OPTIONS] [COMMAND] [JIDs...]

Sends a Heartbeat command to components in the Heartbeat chat room and prints their answers.

Commands:
  systemLoad         1, 5 and 15 minute load averages (default)
  diskUsage          used and total space per mounted file system
  memoryUsage        used and total memory and swap
  runningProcesses   number of processes by state
  ping               check that the components answer
  list               show the members of the chat room

JIDs: full JIDs (jmgeneric@xmpp.cern.ch/alpha), room JIDs (pilots-lounge@conference.xmpp.cern.ch/e48b-42d9)
or room nicknames (e48b-42d9). Without JIDs the command goes to every member of the room.

Options:
  --chat-room=ROOM       overrides HB_CHAT_ROOM
  --chat-server=DOMAIN   overrides HB_CHAT_SERVER (the MUC service, e.g. conference.xmpp.cern.ch)
  --timeout=SECONDS      how long to wait for answers (default 5)
  --json                 print the answers as JSON
  --config=PATH          configuration file (default ${DEFAULT_CONFIG_PATH})
  --HB_NAME=VALUE        overrides any configuration variable
  --verbose              log the XMPP session to stderr
  --help                 show this text

Configuration (file, then environment, then command line): HB_JABBER_SERVER, HB_JABBER_DOMAIN,
HB_JABBER_ID, HB_JABBER_PASSWORD, HB_CHAT_SERVER, HB_CHAT_ROOM.

Exit status: 0 every addressed component answered, 1 some did not, 2 usage or connection error.`;

export interface HeartbeatIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

const defaultIo: HeartbeatIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

const COMMANDS: readonly string[] = [...STATUS_COMPONENTS, 'ping', 'list'];
const FLAGS = ['json', 'help', 'verbose'];
const OPTIONS = new Set(['chat-room', 'chat-server', 'timeout', ...FLAGS]);

interface HeartbeatInvocation {
  command: string;
  targets: string[];
  json: boolean;
  verbose: boolean;
  timeoutMs: number;
  config: ConfigValues;
}

/** The command line is wrong: printed with the usage, without a stack. */
export class UsageError extends CopilotError {
  constructor(message: string) {
    super('USAGE_INVALID', message);
    this.name = 'UsageError';
  }
}

/** Parses argv and the configuration; throws UsageError or ConfigError. Undefined for --help. */
export function parseInvocation(
  argv: readonly string[],
  env: HeartbeatIo['env'],
): HeartbeatInvocation | undefined {
  const args = parseConfigArgs(argv, FLAGS);
  if (args.options.has('help')) return undefined;
  for (const name of args.options.keys()) {
    if (!OPTIONS.has(name)) throw new UsageError(`unknown option --${name}`);
  }
  const { file } = readConfigFile(args.configPath, DEFAULT_CONFIG_PATH);
  const overrides = new Map(args.overrides);
  const room = args.options.get('chat-room');
  if (room !== undefined) overrides.set('HB_CHAT_ROOM', room);
  const server = args.options.get('chat-server');
  if (server !== undefined) overrides.set('HB_CHAT_SERVER', server);
  const config = ConfigValues.from({ file, env, overrides });
  const [first, ...rest] = args.positional;
  let command = 'systemLoad';
  let targets = args.positional;
  if (first !== undefined && COMMANDS.includes(first)) {
    command = first;
    targets = rest;
  } else if (first !== undefined && !first.includes('@') && /^[a-z]+[A-Z]\w*$/.test(first)) {
    throw new UsageError(`unknown command '${first}'; commands: ${COMMANDS.join(', ')}`);
  }
  const timeout = Number(args.options.get('timeout') ?? '5');
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600) {
    throw new UsageError(
      `--timeout must be a number of seconds, not ${args.options.get('timeout') ?? ''}`,
    );
  }
  return {
    command,
    targets,
    json: args.options.has('json'),
    verbose: args.options.has('verbose'),
    timeoutMs: Math.round(timeout * 1000),
    config,
  };
}

function replyJson(reply: HeartbeatReply, command: string): Record<string, unknown> {
  const out: Record<string, unknown> = { nick: reply.target.label, address: reply.target.address };
  if (reply.target.requested !== '') out.requested = reply.target.requested;
  out.answered = reply.answer !== undefined;
  if (reply.answer?.kind === 'status') {
    out.status = reply.answer.status;
    if (!reply.answer.status.startsWith('error:'))
      out.values = parseStatus(command, reply.answer.status);
  }
  if (reply.elapsedMs !== undefined) out.elapsedMs = reply.elapsedMs;
  if (reply.failure !== undefined) out.failure = reply.failure;
  return out;
}

/** Runs copilot-heartbeat; resolves with the exit code. */
export async function main(argv: readonly string[], io: HeartbeatIo = defaultIo): Promise<number> {
  let invocation: HeartbeatInvocation | undefined;
  try {
    invocation = parseInvocation(argv, io.env);
  } catch (error) {
    if (isExpectedError(error)) {
      io.stderr(`copilot-heartbeat: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (!invocation) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const { config, command } = invocation;
  let session: CopilotSession | undefined;
  let room: HeartbeatRoom | undefined;
  try {
    const chatRoom = config.required('HB_CHAT_ROOM', 'or --chat-room');
    const chatServer = config.required('HB_CHAT_SERVER', 'or --chat-server');
    const nick = `heartbeat-${shortUniqueNick()}`;
    session = new CopilotSession(
      sessionOptionsFor(
        {
          server: config.required('HB_JABBER_SERVER'),
          domain: config.required('HB_JABBER_DOMAIN'),
          id: config.required('HB_JABBER_ID'),
          password: config.required('HB_JABBER_PASSWORD'),
        },
        {
          resource: nick,
          logger: invocation.verbose ? consoleLogger('copilot-heartbeat', 'debug') : silentLogger,
          reconnect: { initialMs: 60_000, maxMs: 60_000, jitter: 0 },
        },
      ),
    );
    room = new HeartbeatRoom(session, {
      roomJid: `${chatRoom}@${chatServer}`,
      nick,
      presenceStatus: HEARTBEAT_CLIENT_STATUS,
    });
    await session.start();
    await room.join(Math.max(invocation.timeoutMs, 5_000));
  } catch (error) {
    io.stderr(`copilot-heartbeat: ${errorMessage(error)}\n`);
    room?.leave();
    await session?.stop();
    return 2;
  }
  try {
    if (command === 'list') {
      const members = room.members();
      if (invocation.json) {
        io.stdout(`${JSON.stringify(members, null, 2)}\n`);
      } else {
        const rows = members.map((member) => [
          member.nick,
          member.role,
          member.realJid ?? '',
          member.status === HEARTBEAT_CLIENT_STATUS ? 'heartbeat client' : (member.status ?? ''),
        ]);
        io.stdout(`${formatColumns([['Room nick', 'Role', 'JID', 'Status'], ...rows])}\n`);
      }
      return 0;
    }
    const resolution = resolveTargets({
      requested: invocation.targets,
      roomJid: room.roomJid,
      members: room.roster.members(),
      selfNick: room.nick,
      skipStatus: HEARTBEAT_CLIENT_STATUS,
    });
    const question =
      command === 'ping'
        ? ({ kind: 'ping' } as const)
        : ({ kind: 'status', component: command } as const);
    const replies = await room.ask(question, resolution.targets, invocation.timeoutMs);
    const unknown: HeartbeatReply[] = resolution.unknown.map((name) => ({
      target: { label: name, address: '', requested: name },
      failure: 'not in the room',
    }));
    const all = [...replies, ...unknown];
    if (invocation.json) {
      io.stdout(
        `${JSON.stringify({ command, replies: all.map((reply) => replyJson(reply, command)) }, null, 2)}\n`,
      );
    } else if (all.length === 0) {
      io.stderr(`copilot-heartbeat: nobody else is in ${room.roomJid}\n`);
    } else {
      io.stdout(`${command === 'ping' ? formatPingTable(all) : formatStatusTable(command, all)}\n`);
    }
    const missing = all.filter((reply) => reply.answer === undefined);
    for (const reply of missing) {
      io.stderr(
        `copilot-heartbeat: no answer from ${reply.target.requested || reply.target.label} (${reply.failure ?? 'timeout'})\n`,
      );
    }
    return missing.length > 0 ? 1 : 0;
  } finally {
    room.leave();
    await session.stop();
  }
}

runIfEntryPoint(import.meta.url, 'copilot-heartbeat', main);
