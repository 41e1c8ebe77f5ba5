/**
 * The Monitor's live fleet console (issue #17): its own XMPP account (MON_CONSOLE_*) joins the
 * Heartbeat room as a Heartbeat client, keeps the FleetView up to date (agentState and
 * systemLoad every MON_POLL_SECONDS, every component at start and on "ask now"), and sends the
 * dashboard's admin orders from that account, which the project lists in its agents'
 * AGENT_ADMIN_JIDS. Actions pass the AdminGate (MON_ADMIN_TOKEN_FILE) first.
 */
import { HEARTBEAT_CLIENT_STATUS, HeartbeatRoom } from '@copilot/heartbeat/heartbeat-room';
import {
  FleetConsole,
  UnknownMemberError,
  type AskOutcome,
  type OrderOutcome,
} from '@copilot/heartbeat/fleet-console';
import { FLEET_COMPONENTS, type FleetMember } from '@copilot/heartbeat/fleet-view';
import { roomNickFor } from '@copilot/heartbeat/room-nick';
import { sessionOptionsFor } from '@copilot/heartbeat/xmpp-account';
import { CopilotSession } from '@copilot/transport';
import type { Logger } from '@copilot/base/logger';
import { AdminGate, readAdminToken, type RefusalReason } from './admin-gate';
import type { ConsoleAction } from './console-requests';
import type { ConsoleConfig } from './monitor-config';
import type { ConsoleActions } from './monitor-http-server';

/** What the dashboard shows of the console. */
export interface ConsoleSnapshot {
  room: string;
  nick: string;
  /** The console's account: the one agents must list in AGENT_ADMIN_JIDS. */
  jid: string;
  joined: boolean;
  /** Whether admin actions are possible (MON_ADMIN_TOKEN_FILE is set). */
  actionsEnabled: boolean;
  members: FleetMember[];
  /** Action requests refused since start, by reason. */
  refused: Readonly<Record<RefusalReason, number>>;
}

export interface MonitorConsole {
  readonly fleet: FleetConsole;
  readonly session: CopilotSession;
  readonly actions: ConsoleActions;
  snapshot(): ConsoleSnapshot;
  stop(): Promise<void>;
}

export interface MonitorConsoleOptions {
  config: ConsoleConfig;
  roomJid: string;
  /** Presence status of the Monitor's own member, shown as kind `monitor`. */
  monitorStatus: string;
  pollSeconds: number;
  logger: Logger;
  now?: () => number;
}

/** Starts the console: logs in, joins the room, asks everyone everything once, then polls. */
export async function startMonitorConsole(options: MonitorConsoleOptions): Promise<MonitorConsole> {
  const { config, logger } = options;
  // Read first: a bad token file stops the Monitor before it logs in anywhere.
  const token =
    config.adminTokenFile === undefined ? undefined : readAdminToken(config.adminTokenFile, logger);
  const gate = new AdminGate(token, logger.child('admin'), options.now);
  const session = new CopilotSession(
    sessionOptionsFor(config.jabber, { logger: logger.child('console-xmpp') }),
  );
  let room: HeartbeatRoom | undefined;
  try {
    await session.start();
    room = new HeartbeatRoom(session, {
      roomJid: options.roomJid,
      nick: `console-${roomNickFor(session.jid)}`,
      presenceStatus: HEARTBEAT_CLIENT_STATUS,
    });
    await room.join();
  } catch (error) {
    room?.leave();
    await session.stop();
    throw error;
  }
  const joinedRoom = room;
  const fleet = new FleetConsole({
    session,
    room: joinedRoom,
    clientStatus: HEARTBEAT_CLIENT_STATUS,
    monitorStatus: options.monitorStatus,
    askTimeoutMs: Math.min(5_000, options.pollSeconds * 1000),
    pollComponents: ['agentState', 'systemLoad'],
    logger: logger.child('console'),
    now: options.now,
  });
  void fleet.askNow('all', FLEET_COMPONENTS);
  const timer = setInterval(() => void fleet.poll(), options.pollSeconds * 1000);

  const run = async (action: ConsoleAction): Promise<AskOutcome | OrderOutcome> =>
    action.kind === 'ask'
      ? fleet.askNow(action.target, action.components)
      : fleet.order(action.target, action.order, action.reason);
  return {
    fleet,
    session,
    actions: {
      gate,
      run,
      isUnknownTarget: (error) => error instanceof UnknownMemberError,
    },
    snapshot: () => ({
      room: joinedRoom.roomJid,
      nick: joinedRoom.nick,
      jid: session.jid,
      joined: joinedRoom.isJoined,
      actionsEnabled: gate.enabled,
      members: fleet.members(),
      refused: { ...gate.refused },
    }),
    async stop() {
      clearInterval(timer);
      fleet.stop();
      joinedRoom.leave();
      await session.stop();
    },
  };
}
