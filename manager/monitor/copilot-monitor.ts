import type { CommandMessage } from '@copilot/protocol';
import {
  answerHeartbeatRequests,
  type HeartbeatAnswering,
} from '@copilot/heartbeat/heartbeat-responder';
import { HeartbeatRoom } from '@copilot/heartbeat/heartbeat-room';
import { roomNickFor } from '@copilot/heartbeat/room-nick';
import { sessionOptionsFor } from '@copilot/heartbeat/xmpp-account';
import { CopilotSession } from '@copilot/transport';
import { silentLogger, type Logger } from '@copilot/base/logger';
import { pollAgentLoads } from './agent-load-poller';
import { CarbonClient } from './carbon-client';
import { DashboardHistory, jobCounts, type DashboardSnapshot } from './dashboard-state';
import { EventAggregator, type MonitorReport } from './event-aggregator';
import type { MetricPoint } from './metric-path';
import { monitorFamilies } from './monitor-metrics';
import { startMonitorHttpServer, type MonitorHttpServer } from './monitor-http-server';
import { allowedSendersWarning, type MonitorConfig } from './monitor-config';
import { batchProgress, staleBatchEvents } from './batch-board';
import { JobRateHistory } from './job-rate-history';
import { startMonitorConsole, type MonitorConsole } from './monitor-console';
import { ReportIntake } from './report-intake';
import { attachLinkSource } from './attach-link-view';
import { SenderAllowList } from './sender-allow-list';

/** Presence status of the Monitor in the Heartbeat room. */
export const MONITOR_PRESENCE_STATUS = 'copilot-monitor';

/** Batches whose figures the Monitor keeps; older ones are forgotten (Carbon keeps them). */
const KEPT_BATCHES = 50;

export interface MonitorOptions {
  config: MonitorConfig;
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

export interface Monitor {
  readonly session: CopilotSession;
  readonly http: MonitorHttpServer;
  readonly carbon: CarbonClient;
  readonly aggregator: EventAggregator;
  /** Allow-list and drop counts in front of the aggregator. */
  readonly intake: ReportIntake;
  /** The Heartbeat room, when one is configured. */
  readonly room: HeartbeatRoom | undefined;
  /** The live fleet console, when MON_CONSOLE_* configures one. */
  readonly console: MonitorConsole | undefined;
  /** Closes the current sample now (as the timer does) and returns its points. */
  sampleNow(): MetricPoint[];
  /** Polls the room members' load now (as the timer does). */
  pollNow(): Promise<void>;
  snapshot(): DashboardSnapshot;
  stop(): Promise<void>;
}

function isReport(message: CommandMessage): MonitorReport | undefined {
  const command = message.command;
  if (
    command.command === 'reportEvent' ||
    command.command === 'reportEventDuration' ||
    command.command === 'reportEventValue'
  ) {
    return command;
  }
  return undefined;
}

function carbonStatus(carbon: CarbonClient): DashboardSnapshot['carbon'] {
  const { isConnected: connected, bufferedLines, droppedLines, sentLines } = carbon;
  return { connected, bufferedLines, droppedLines, sentLines };
}

/** The dashboard's HTTP server, with the fleet console's actions and the attach link when set. */
function startDashboard(
  config: MonitorOptions['config'],
  logger: Logger,
  fleetConsole: MonitorConsole | undefined,
  sources: Pick<Parameters<typeof startMonitorHttpServer>[0], 'snapshot' | 'families'>,
): Promise<MonitorHttpServer> {
  return startMonitorHttpServer(
    {
      ...sources,
      actions: fleetConsole?.actions,
      ...(config.attachLink
        ? {
            attachLink: attachLinkSource(
              config.attachLink,
              fleetConsole?.actions.gate,
              logger.child('attach-link'),
            ),
          }
        : {}),
    },
    config.http,
  );
}

/**
 * The Co-Pilot Monitor (2.3, 4.4): an XMPP component that receives reportEvent,
 * reportEventDuration and reportEventValue and stores them in Graphite through Carbon, serves the
 * same metrics to Prometheus at /metrics, and a dashboard at / with job counts and the load of
 * the members of the Heartbeat room.
 */
export async function startMonitor(options: MonitorOptions): Promise<Monitor> {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const warning = allowedSendersWarning(config);
  if (warning) logger.warn(warning);
  const aggregator = new EventAggregator(config.maxSeries);
  const intake = new ReportIntake({
    allowList: new SenderAllowList(config.allowedSenders),
    aggregator,
    maxSeries: config.maxSeries,
    logger,
    now,
  });
  const history = new DashboardHistory();
  const rates = new JobRateHistory();
  const session = new CopilotSession(
    sessionOptionsFor(config.jabber, { logger: logger.child('xmpp'), priority: 1 }),
  );
  const carbon = new CarbonClient({
    host: config.carbon.host,
    port: config.carbon.port,
    maxBufferedLines: config.carbonBufferLines,
    logger: logger.child('carbon'),
  });

  session.onCommand((message) => {
    const report = isReport(message);
    if (!report) return;
    const immediate = intake.receive(message.from, report, now());
    if (immediate.length > 0) carbon.send(immediate);
  });

  let room: HeartbeatRoom | undefined;
  let answering: HeartbeatAnswering | undefined;
  let fleetConsole: MonitorConsole | undefined;
  const snapshot = (): DashboardSnapshot => ({
    generatedAt: new Date(now()).toISOString(),
    sampleSeconds: config.sampleSeconds,
    jobs: jobCounts(aggregator),
    history: history.jobHistory(),
    agents: history.agentLoads(),
    room: room?.roomJid ?? null,
    carbon: carbonStatus(carbon),
    updates: { lastSample: aggregator.stats.lastUpdates, total: aggregator.stats.updatesTotal },
    dropped: { ...intake.dropped },
    rates: rates.rates(now()),
    batches: batchProgress(aggregator.valueSeries()),
    console: fleetConsole?.snapshot() ?? null,
  });

  let http: MonitorHttpServer | undefined;
  try {
    await session.start();
    if (config.chat) {
      room = new HeartbeatRoom(session, {
        roomJid: `${config.chat.room}@${config.chat.server}`,
        nick: `monitor-${roomNickFor(session.jid)}`,
        presenceStatus: MONITOR_PRESENCE_STATUS,
      });
      // The Monitor is a room member like any component, so it answers Heartbeat questions too.
      answering = answerHeartbeatRequests(session, { logger });
      await room.join();
      if (config.console) {
        fleetConsole = await startMonitorConsole({
          config: config.console,
          roomJid: room.roomJid,
          monitorStatus: MONITOR_PRESENCE_STATUS,
          pollSeconds: config.pollSeconds,
          logger,
          now,
        });
      }
    }
    http = await startDashboard(config, logger, fleetConsole, {
      snapshot,
      families: () => monitorFamilies(aggregator, history, carbon, intake.dropped),
    });
  } catch (error) {
    await fleetConsole?.stop();
    room?.leave();
    await session.stop();
    await carbon.close();
    throw error;
  }
  logger.info('Monitor ready', {
    jid: session.jid,
    dashboard: http.url,
    carbon: `${config.carbon.host}:${config.carbon.port}`,
    allowedSenders: config.allowedSenders.join(' '),
    maxSeries: config.maxSeries,
  });

  const sampleNow = (): MetricPoint[] => {
    const at = now();
    const { points, updates } = aggregator.sample(at);
    carbon.send(points);
    const counts = jobCounts(aggregator);
    history.addSample(counts, at);
    rates.add(counts, at);
    for (const stale of staleBatchEvents(aggregator.valueSeries(), KEPT_BATCHES))
      aggregator.forgetValue(stale.component, stale.event);
    logger.info(`Sent ${updates} updates to Carbon.`);
    return points;
  };
  let polling = false;
  const pollNow = async (): Promise<void> => {
    if (!room || polling) return;
    polling = true;
    try {
      await pollAgentLoads(room, history, Math.min(5_000, config.pollSeconds * 1000));
    } finally {
      polling = false;
    }
  };
  const sampleTimer = setInterval(sampleNow, config.sampleSeconds * 1000);
  const pollTimer = room ? setInterval(() => void pollNow(), config.pollSeconds * 1000) : undefined;
  if (room) void pollNow();

  const server = http;
  return {
    session,
    http: server,
    carbon,
    aggregator,
    intake,
    room,
    console: fleetConsole,
    sampleNow,
    pollNow,
    snapshot,
    async stop() {
      clearInterval(sampleTimer);
      clearInterval(pollTimer);
      answering?.stop();
      await server.close();
      await fleetConsole?.stop();
      room?.leave();
      await session.stop();
      await carbon.close();
    },
  };
}
