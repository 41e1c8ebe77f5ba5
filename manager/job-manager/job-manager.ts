/**
 * Starts a Generic Job and Storage Manager in-process: the job store, the HTTP storage server
 * (or Chirp job dirs with JM_CHIRP_*), the XMPP session and the job-cycle handler, plus the lease
 * reaper (which also sweeps Chirp dirs). The returned object exposes the CopilotSession so other
 * plug-ins (e.g. a Heartbeat responder) can attach their own handlers with
 * `session.onCommand(...)`.
 */
import fs from 'node:fs';
import {
  CopilotSession,
  MonitorReporter,
  monitorComponent,
  noackChannel,
  type CopilotSessionOptions,
} from '@copilot/transport';
import { silentLogger, type Logger } from '@copilot/base/logger';
import { attachHeartbeatResponder } from '@copilot/heartbeat/heartbeat-responder';
import { removePartialArchives } from './job-archive';
import { ChirpJobDirs } from './chirp-job-dirs';
import { JobCycleHandler, type JobManagerEvent } from './job-cycle-handler';
import type { JobQueue } from './job-queue';
import { JobStorePaths } from './job-store-paths';
import { requeueExpiredLeases } from './lease-reaper';
import type { JobManagerConfig } from './manager-config';
import { openJobQueue } from './open-job-queue';
import { StorageServer } from './storage-server';
import { errorMessage } from '@copilot/base/errors';
import { BannedAccounts, RequestCooldown } from './request-limits';
import { SystemFigures, type SystemSource } from './system-figures';
import { startBatchReports } from './batch-report';

export interface StartJobManagerOptions {
  logger?: Logger;
  /** Extra CopilotSession options (ack timeout, reconnect back-off, …). */
  session?: Partial<Omit<CopilotSessionOptions, 'service' | 'domain' | 'username' | 'password'>>;
  /** How often expired leases are looked for; default leaseMs / 4, between 0.2 s and 30 s. */
  reaperIntervalMs?: number;
  /** How often queuedJobs is reported to the monitor; default 30 s. */
  queueReportIntervalMs?: number;
  /** How often the system.* figures go to the monitor (2.3.2); default 60 s. */
  systemReportIntervalMs?: number;
  /** Where the system.* figures are read (tests); default the host. */
  systemSource?: SystemSource;
  /** Redis key namespace (tests). */
  redisNamespace?: string;
}

export interface RunningJobManager {
  readonly config: JobManagerConfig;
  readonly session: CopilotSession;
  readonly queue: JobQueue;
  readonly paths: JobStorePaths;
  /** The storage base URL advertised to agents. */
  readonly storageUrl: string;
  readonly storagePort: number;
  /** Full JID once online. */
  readonly jid: string;
  stop(): Promise<void>;
}

/**
 * Sends the system.* figures to the monitor every `intervalMs` when one is configured, one
 * sample at a time; returns the function that stops it.
 */
function reportSystemFigures(
  monitor: MonitorReporter<JobManagerEvent>,
  options: { intervalMs: number; figures: SystemFigures },
): () => void {
  if (!monitor.enabled) return () => undefined;
  let sampling = false;
  const timer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    options.figures
      .sample()
      .then((figures) => {
        for (const figure of figures) monitor.value(figure.event, figure.value);
      })
      .catch(() => undefined)
      .finally(() => {
        sampling = false;
      });
  }, options.intervalMs);
  return () => clearInterval(timer);
}

export async function startJobManager(
  config: JobManagerConfig,
  options: StartJobManagerOptions = {},
): Promise<RunningJobManager> {
  const logger = options.logger ?? silentLogger;
  for (const dir of [config.stateDir, config.storageDir, config.doneJobDir]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  if (config.storageManagerAddress === undefined) await removePartialArchives(config.doneJobDir);
  const queue = await openJobQueue({ ...config, redisNamespace: options.redisNamespace });
  const paths = new JobStorePaths(config.storageDir);
  const redirecting = config.storageManagerAddress !== undefined;
  const storage = new StorageServer({
    queue,
    paths,
    logger: logger.child('storage'),
    leaseMs: config.leaseMs,
    maxUploadBytes: config.maxUploadBytes,
    maxJobBytes: config.maxJobBytes,
    maxConnectionsPerClient: config.maxConnectionsPerClient,
    serveInput: config.role !== 'storage',
    acceptOutput: !redirecting,
    port: config.storagePort,
    host: config.storageBind,
  });
  const chirp = config.chirp
    ? new ChirpJobDirs({
        config: config.chirp,
        paths,
        logger: logger.child('chirp'),
        maxUploadBytes: config.maxUploadBytes,
        maxJobBytes: config.maxJobBytes,
      })
    : undefined;
  const cleanups: Array<() => Promise<void>> = [() => queue.close()];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    await chirp?.checkRoot();
    const storagePort = await storage.start();
    cleanups.push(() => storage.stop());
    const storageUrl = config.storageUrl ?? storage.defaultBaseUrl();
    const session = new CopilotSession({
      wireFormat: config.xmpp.wireFormat,
      ...options.session,
      service: config.xmpp.service,
      domain: config.xmpp.domain,
      username: config.xmpp.username,
      password: config.xmpp.password,
      resource: config.xmpp.resource,
      logger: logger.child('xmpp'),
    });
    const monitor = new MonitorReporter<JobManagerEvent>(
      noackChannel(session, logger),
      config.monitorAddress,
      monitorComponent('jobManager', config.xmpp.resource),
    );
    const handler = new JobCycleHandler({
      queue,
      paths,
      monitor,
      logger: logger.child('jobs'),
      role: config.role,
      doneJobDir: config.doneJobDir,
      leaseMs: config.leaseMs,
      requireFile: config.requireFile,
      storageManagerAddress: config.storageManagerAddress,
      storageBaseUrl: () => storageUrl,
      chirp,
      bundleLimits: { maxFileBytes: config.maxUploadBytes, maxTotalBytes: config.maxJobBytes },
      cooldown: new RequestCooldown({ cooldownMs: config.requestCooldownMs }),
      banned:
        config.bannedFile === undefined
          ? undefined
          : new BannedAccounts({ file: config.bannedFile, logger: logger.child('bans') }),
      maxLeasesPerAgent: config.maxLeasesPerAgent,
      maxAttempts: config.maxAttempts,
      reply: (to, command) => session.send(to, command),
      notify: (to, command) => {
        session.send(to, command, { noack: true }).catch(() => undefined);
      },
    });
    session.onCommand((message) => handler.handle(message));
    if (config.heartbeat) {
      attachHeartbeatResponder(session, { ...config.heartbeat, logger: logger.child('heartbeat') });
    }
    await session.start();
    cleanups.push(() => session.stop());

    const reaperMs =
      options.reaperIntervalMs ?? Math.min(30_000, Math.max(200, Math.floor(config.leaseMs / 4)));
    const reaper = setInterval(() => {
      requeueExpiredLeases(queue, logger.child('lease'), Date.now(), {
        maxAttempts: config.maxAttempts,
        onFailed: () => monitor.event('job.failed'),
        onReleased: async (job) => chirp?.release(job),
      })
        .then(async () => chirp?.sweep(queue))
        .catch((error: unknown) => {
          logger.warn('lease check or Chirp sweep failed', {
            error: errorMessage(error),
          });
        });
    }, reaperMs);
    const reporter = setInterval(
      () => handler.reportQueueLength(),
      options.queueReportIntervalMs ?? 30_000,
    );
    const stopSystemReports = reportSystemFigures(monitor, {
      intervalMs: options.systemReportIntervalMs ?? 60_000,
      figures: new SystemFigures(options.systemSource, logger.child('system')),
    });
    cleanups.push(() => {
      clearInterval(reaper);
      clearInterval(reporter);
      stopSystemReports();
      return Promise.resolve();
    });
    cleanups.push(startBatchReports(queue, session, config, logger, options.queueReportIntervalMs));
    handler.reportQueueLength();
    logger.info('job manager started', {
      jid: session.jid,
      role: config.role,
      queue: queue.backend,
      storage: config.chirp ? `chirp ${config.chirp.server}` : storageUrl,
      redirect: config.storageManagerAddress,
    });
    let stopped = false;
    return {
      config,
      session,
      queue,
      paths,
      storageUrl,
      storagePort,
      get jid() {
        return session.jid;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
