export type { Agent, AgentOptions } from './agent-options';

/**
 * The agent's composition root: builds its parts and wires them together. Each part owns its
 * state: XmppConnection (session, reconnect), DockerWatch (is the engine there), JobSlots (the
 * jobs in hand, each a JobLifecycle), WorkFetcher (asking managers for work), StatusFeed (what
 * the UI shows) and the UI commands. A one-second tick probes Docker when due, applies the
 * resource policy and asks for work; `pump` asks whenever a slot may be free.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import si from 'systeminformation';
import type {
  AgentSettings,
  AgentStatus,
  DockerState,
  JobHistoryRecord,
} from '../contract/ui-contract';
import type { Logger } from '../base/logger';
import { TypedEmitter } from '../base/typed-emitter';
import type { AgentHostEvents } from './agent-host';
import {
  DEFAULT_DOCKER_BACKOFF,
  DEFAULT_FETCH_BACKOFF,
  DEFAULT_LEASE_RENEWAL_MS,
  DEFAULT_RESULT_RETENTION_MS,
  DEFAULT_RETRY_BACKOFF,
  DEFAULT_SENSOR_INTERVAL_MS,
  DEFAULT_WALL_CLOCK_SECONDS,
  type Agent,
  type AgentOptions,
} from './agent-options';
import { DEFAULT_JOB_IMAGE, DockerRunner, type JobRunner } from './docker-runner';
import { DockerWatch } from './docker-watch';
import { attachAdminOrders } from './admin-orders';
import { jobImagesFor } from './image-cache';
import { registryList } from './job-image';
import { AgentNotifier } from './agent-notifier';
import { HostSensors } from './host-sensors';
import { EventLog } from './event-log';
import { JobHistory } from './job-history';
import { JobSlots, type SharedLifecycleDeps } from './job-slots';
import { JobStore } from './job-store';
import { ManagerExchange, SessionChannel, type ProtocolChannel } from './manager-exchange';
import { managerAddresses, ManagerTrust } from './manager-trust';
import { ResourcePolicy } from './resource-policy';
import { SerialLock } from '../base/serial-lock';
import { buildStatus, StatusFeed } from './status-feed';
import { agentStateLine } from './agent-status';
import { hostStatusProbes } from '../heartbeat/status-probes';
import { storageClient } from './storage-transfer';
import { createUiCommands } from './ui-commands';
import { attachCommands } from './attach-project';
import { loneAgentProjectCommands } from './project-fields';
import { WorkFetcher } from './work-fetcher';
import {
  fixedConnection,
  isConfigured,
  XmppConnection,
  type AgentConnection,
} from './xmpp-connection';
import { monitorComponent, type MonitorReporter } from '../transport/monitor-reporter';
import { AgentMonitor, monitorAddresses, reportSystemLoad } from './agent-monitor';

/**
 * The XMPP resource, kept in the data dir so that a restarted agent has the same full JID (a
 * manager may tie a lease to it).
 */
function stableResource(dataDir: string): string {
  const file = path.join(dataDir, 'agent-resource');
  try {
    const saved = fs.readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9._-]{1,64}$/.test(saved)) return saved;
  } catch {
    // first start
  }
  const host =
    os
      .hostname()
      .replace(/[^A-Za-z0-9-]/g, '_')
      .slice(0, 40) || 'host';
  const resource = `agent-${host}-${crypto.randomBytes(3).toString('hex')}`;
  fs.writeFileSync(file, resource + '\n');
  return resource;
}

/** The job runner (Docker, or a test's) and the watch on its engine. */
function containerEngine(
  options: AgentOptions,
  dataDir: string,
  logger: Logger,
): { runner: JobRunner; docker: DockerWatch } {
  const agentId = crypto.createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const dockerRunner = options.runner
    ? undefined
    : new DockerRunner({
        docker: options.docker,
        engine: options.engine,
        logger: logger.child('docker'),
        agentId,
      });
  const runner: JobRunner = options.runner ?? (dockerRunner as DockerRunner);
  const docker = new DockerWatch({
    probe:
      options.probeDocker ??
      (dockerRunner
        ? () => dockerRunner.probe()
        : () => Promise.resolve<DockerState>({ available: true, message: 'test runner' })),
    logger,
    backoff: options.dockerBackoff ?? DEFAULT_DOCKER_BACKOFF,
  });
  return { runner, docker };
}

interface LifecycleParts {
  exchange: ManagerExchange;
  runner: JobRunner;
  store: JobStore;
  logger: Logger;
  monitor: MonitorReporter;
  handshakeLock: SerialLock;
  agentHost: string;
  policy: ResourcePolicy;
  hostCpuCount: number;
  settings: () => AgentSettings;
}

/** What every job's lifecycle shares, from the options and the agent's parts. */
function lifecycleDeps(options: AgentOptions, parts: LifecycleParts): SharedLifecycleDeps {
  const { policy, hostCpuCount } = parts;
  return {
    exchange: parts.exchange,
    runner: parts.runner,
    storage: options.storage ?? storageClient(),
    store: parts.store,
    logger: parts.logger.child('job'),
    monitor: parts.monitor,
    handshakeLock: parts.handshakeLock,
    agentHost: parts.agentHost,
    limits: () => policy.limits(hostCpuCount),
    mayRun: () => policy.decide(Date.now()).run,
    image: options.jobImage ?? DEFAULT_JOB_IMAGE,
    images: jobImagesFor(
      parts.runner,
      path.dirname(parts.store.jobsDir),
      parts.logger.child('images'),
      options.jobImageCacheBytes,
    ),
    allowedImageRegistries: () => registryList(parts.settings().allowedImageRegistries),
    wallClockLimitMs: (options.wallClockLimitSeconds ?? DEFAULT_WALL_CLOCK_SECONDS) * 1000,
    allowJobNetwork: () => parts.settings().allowJobNetwork,
    replyTimeoutMs: options.replyTimeoutMs ?? 10_000,
    leaseRenewalMs: options.leaseRenewalMs ?? DEFAULT_LEASE_RENEWAL_MS,
    retry: options.retryBackoff ?? DEFAULT_RETRY_BACKOFF,
    maxUploadAttempts: options.maxUploadAttempts ?? 10,
    resultRetentionMs: options.resultRetentionMs ?? DEFAULT_RESULT_RETENTION_MS,
  };
}

/** What changes while the agent lives; every part reads it through the closures it is given. */
interface RunState {
  settings: AgentSettings;
  stopped: boolean;
}

/** The parts every other part is built on: the data dir, settings, logs, stores and the policy. */
interface AgentBasics {
  options: AgentOptions;
  dataDir: string;
  run: RunState;
  settings: () => AgentSettings;
  events: TypedEmitter<AgentHostEvents>;
  eventLog: EventLog;
  logger: Logger;
  policy: ResourcePolicy;
  history: JobHistory;
  store: JobStore;
  hostCpuCount: number;
  resource: string;
  agentHost: string;
}

/** The volunteer's policy, with this project's own hold and CPU part when it is one of several. */
function projectPolicy(settings: AgentSettings, options: AgentOptions): ResourcePolicy {
  const policy = new ResourcePolicy(settings);
  if (options.hold) policy.addHold(options.hold);
  if (options.cpuFactor) policy.shareFactor = options.cpuFactor;
  return policy;
}

function agentBasics(options: AgentOptions): AgentBasics {
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const run: RunState = { settings: { ...options.settings }, stopped: true };
  const events = new TypedEmitter<AgentHostEvents>();
  const eventLog = new EventLog({
    dir: path.join(dataDir, 'logs'),
    minimumLevel: options.logLevel ?? 'info',
    echo: options.echoLog,
  });
  eventLog.onEntry((entry) => events.emit('log', entry));
  return {
    options,
    dataDir,
    run,
    settings: () => run.settings,
    events,
    eventLog,
    logger: eventLog.logger('agent'),
    policy: projectPolicy(run.settings, options),
    history: new JobHistory(dataDir),
    store: new JobStore(dataDir),
    hostCpuCount: os.cpus().length || 1,
    resource: options.resource ?? stableResource(dataDir),
    agentHost: options.agentHost ?? os.hostname(),
  };
}

/**
 * The channel to the managers and the connection behind it: the XMPP session the agent makes,
 * or a test's channel (options.channel) that is always connected.
 */
function agentConnection(
  basics: AgentBasics,
  hooks: { onChange: () => void; onOnline: () => void; agentState?: () => string },
): { channel: ProtocolChannel; connection: AgentConnection } {
  const { options, run, resource, logger } = basics;
  if (options.channel) return { channel: options.channel, connection: fixedConnection(resource) };
  const channel = new SessionChannel();
  const connection = new XmppConnection({
    settings: basics.settings,
    channel,
    resource,
    logger,
    service: options.xmppService,
    sessionOptions: options.session,
    stopped: () => run.stopped,
    onChange: hooks.onChange,
    onOnline: hooks.onOnline,
    ...(hooks.agentState ? { heartbeatProbes: agentStateProbes(hooks.agentState) } : {}),
  });
  return { channel, connection };
}

/** The host's Heartbeat probes and the agent's own `agentState` (agent-status.ts). */
function agentStateProbes(agentState: () => string): typeof hostStatusProbes {
  return { ...hostStatusProbes, extra: { agentState: () => Promise.resolve(agentState()) } };
}

/**
 * Every command that enters goes through the trust rule: orders only from our managers, admin
 * orders only from the project's admin accounts.
 */
function managerExchange(channel: ProtocolChannel, basics: AgentBasics): ManagerExchange {
  const { run, logger } = basics;
  const trust = new ManagerTrust(
    () => managerAddresses(run.settings.jobManagerAddress),
    logger.child('trust'),
    Date.now,
    () => managerAddresses(run.settings.adminAccounts),
  );
  // The Heartbeat responder attached to the session answers Heartbeat questions.
  return new ManagerExchange(channel, trust, logger.child('exchange'), (from, command) => {
    if (!command.command.startsWith('Heartbeat:'))
      logger.debug('unexpected command ignored', { command: command.command, from });
  });
}

/** The parts that talk to managers and run jobs, which the job slots and the fetcher share. */
interface JobParts {
  exchange: ManagerExchange;
  runner: JobRunner;
  docker: DockerWatch;
  monitor: MonitorReporter;
  handshakeLock: SerialLock;
}

function jobSlots(
  basics: AgentBasics,
  parts: JobParts,
  hooks: {
    afterProbe: () => void;
    onChange: () => void;
    onFreed: () => void;
    onJobDone: (record: JobHistoryRecord) => void;
  },
): JobSlots {
  const { options, run, policy, hostCpuCount, store, logger, events } = basics;
  const { runner, docker } = parts;
  return new JobSlots({
    lifecycle: lifecycleDeps(options, {
      exchange: parts.exchange,
      runner,
      store,
      logger,
      monitor: parts.monitor,
      handshakeLock: parts.handshakeLock,
      agentHost: basics.agentHost,
      policy,
      hostCpuCount,
      settings: basics.settings,
    }),
    runner,
    store,
    history: basics.history,
    logger,
    wallClockLimitMs: (options.wallClockLimitSeconds ?? DEFAULT_WALL_CLOCK_SECONDS) * 1000,
    mayRun: () => policy.decide(Date.now()).run,
    limits: () => policy.limits(hostCpuCount),
    dockerAvailable: () => docker.available,
    stopped: () => run.stopped,
    // Most often Docker went away: ask it now, before the freed slot fetches another job (the
    // fetcher waits for the probe), rather than at the next probe up to 30 s away.
    onLifecycleFailure: () => void docker.probe().then(hooks.afterProbe),
    onChange: hooks.onChange,
    onFreed: hooks.onFreed,
    onJobDone: (record) => {
      events.emit('job', record);
      hooks.onJobDone(record);
    },
  });
}

/** How much less often the sensors are read while no job runs (60 s at the default 10 s). */
const IDLE_SAMPLING_FACTOR = 6;

/**
 * Reads the sensors every sensorIntervalMs (IDLE_SAMPLING_FACTOR times less often while no job
 * runs; one reading at a time) into the policy: a changed
 * CPU factor updates the containers' limits, and the policy is applied to the jobs. The promise
 * is the reading under way (start waits for the first before it asks for work).
 */
function sensorSampler(
  basics: AgentBasics,
  parts: { slots: JobSlots; runner: JobRunner; afterProbe: () => void },
): () => Promise<void> {
  const { options, policy, run } = basics;
  const source = options.sensors === undefined ? si : options.sensors;
  if (source === null) return () => Promise.resolve();
  const { slots, runner } = parts;
  const sensors = new HostSensors({
    source,
    hostCpuCount: basics.hostCpuCount,
    ownCpuSeconds: () =>
      slots.running(Date.now()).reduce((sum, job) => sum + runner.cpuSeconds(job.jobId), 0) +
      (options.otherJobsCpuSeconds?.() ?? 0),
    idle: options.readIdle ?? true,
    needs: () => ({
      temperature: run.settings.thermalLimitC > 0,
      load: run.settings.busyCpuPercent > 0,
      idle: run.settings.runOnlyWhenIdle,
    }),
    ...(options.runProgram ? { run: options.runProgram } : {}),
  });
  const every = options.sensorIntervalMs ?? DEFAULT_SENSOR_INTERVAL_MS;
  let nextAt = 0;
  let sampling: Promise<void> | null = null;
  return () => {
    const now = Date.now();
    if (sampling) return sampling;
    if (now < nextAt) return Promise.resolve();
    sampling = sensors
      .sample(now)
      .then(({ readings, idleSeconds }) => {
        if (run.stopped) return;
        if (policy.reportReadings(readings, idleSeconds)) slots.applyLimits();
        slots.applyPolicy();
        parts.afterProbe();
      })
      .catch(() => undefined)
      .finally(() => {
        sampling = null;
        // Without a running job nothing is throttled; a slower look keeps the idle agent idle.
        nextAt = Date.now() + (slots.size > 0 ? every : every * IDLE_SAMPLING_FACTOR);
      });
    return sampling;
  };
}

function workFetcher(
  basics: AgentBasics,
  parts: JobParts,
  wiring: {
    channel: ProtocolChannel;
    slots: JobSlots;
    afterRound: () => void;
    /** No admin order (drain, pause) stops asking for work. */
    allowsNewWork?: () => boolean;
  },
): WorkFetcher {
  const { options, run, policy, store } = basics;
  const { docker } = parts;
  const { channel, slots } = wiring;
  return new WorkFetcher({
    exchange: parts.exchange,
    handshakeLock: parts.handshakeLock,
    settings: basics.settings,
    agentHost: basics.agentHost,
    dataDir: basics.dataDir,
    hostCpuCount: basics.hostCpuCount,
    logger: basics.logger.child('request'),
    systemInfo: options.systemInfo ?? si,
    replyTimeoutMs: options.replyTimeoutMs ?? 10_000,
    backoff: options.fetchBackoff ?? DEFAULT_FETCH_BACKOFF,
    mayFetch: (now) =>
      !run.stopped &&
      !docker.probing &&
      docker.available &&
      channel.online &&
      policy.decide(now).run &&
      !policy.finishing &&
      (wiring.allowsNewWork?.() ?? true) &&
      slots.size < run.settings.jobSlots &&
      (options.channel !== undefined || isConfigured(run.settings)),
    holds: (jobId) => slots.holds(jobId) || store.exists(jobId),
    // A job that arrives while the agent stops is kept for the next start.
    onJob: (inHand) => (run.stopped ? store.save(inHand) : slots.start(inHand)),
    onRoundEnd: wiring.afterRound,
  });
}

/** The contract's commands: settings applied live and persisted, pause/resume, jobs, log. */
function agentUiCommands(
  basics: AgentBasics,
  parts: {
    slots: JobSlots;
    connection: AgentConnection;
    status: () => AgentStatus;
    feed: StatusFeed;
    fetcher: WorkFetcher;
    checkEngine: () => Promise<void>;
  },
): Agent['commands'] {
  const { options, run, policy } = basics;
  const { connection, feed, fetcher } = parts;
  const commands = createUiCommands({
    settings: {
      get: basics.settings,
      set: async (next) => {
        run.settings = next;
        policy.update(next);
        await options.persistSettings?.(next);
      },
    },
    policy,
    slots: parts.slots,
    history: basics.history,
    logger: basics.logger,
    hostCpuCount: basics.hostCpuCount,
    status: parts.status,
    log: (limit) => basics.eventLog.entries(limit),
    reconnect: () => (run.stopped ? Promise.resolve() : connection.reconnect()),
    update: (force) => feed.update(force),
    pump: () => fetcher.pump(),
    checkEngine: parts.checkEngine,
  });
  // Attaching to a project applies its settings through setSettings (reconnects, persists).
  const attach = attachCommands({
    settings: basics.settings,
    apply: (patch) => commands.setSettings(patch),
    logger: basics.logger.child('attach'),
  });
  return { ...commands, ...attach, ...loneAgentProjectCommands() };
}

/** Containers an earlier run left are removed, and the jobs it left on disk taken up again. */
async function takeUpLeftovers(
  parts: { runner: JobRunner; docker: DockerWatch; store: JobStore; slots: JobSlots },
  logger: Logger,
): Promise<void> {
  const { runner, docker, store, slots } = parts;
  const stored = store.loadAll((jobId, error) => slots.reportUnreadable(jobId, error));
  if (docker.available) {
    const swept = await runner.sweep(stored.map((inHand) => inHand.job.id)).catch(() => 0);
    if (swept > 0) logger.info('removed containers left by an earlier run', { count: swept });
  }
  slots.resume(stored);
}

interface HostParts {
  basics: AgentBasics;
  runner: JobRunner;
  docker: DockerWatch;
  slots: JobSlots;
  connection: AgentConnection;
  monitor: MonitorReporter;
  feed: StatusFeed;
  fetcher: WorkFetcher;
  tick: () => void;
  afterProbe: () => void;
  /** The first sensor reading, so that the rules hold before any work is asked for. */
  sampleSensors: () => Promise<void>;
}

/** The host's controls (AgentHost): start with a cleanup list of timers, stop, idle readings. */
function hostControls(parts: HostParts): Pick<Agent, 'start' | 'stop' | 'reportIdleSeconds'> {
  const { basics, slots, docker, connection, feed, fetcher, monitor } = parts;
  const { options, run, logger, store } = basics;
  const timers: NodeJS.Timeout[] = [];
  return {
    async start() {
      if (!run.stopped) return;
      run.stopped = false;
      slots.open();
      const unreadable = basics.history.load();
      if (unreadable > 0)
        logger.warn('unreadable lines in the job history skipped', { lines: unreadable });
      const image = options.jobImage ?? DEFAULT_JOB_IMAGE;
      logger.info('agent starting', { dataDir: basics.dataDir, resource: basics.resource, image });
      await docker.probe();
      await takeUpLeftovers({ runner: parts.runner, docker, store, slots }, logger);
      await parts.sampleSensors();
      void connection.connect();
      timers.push(setInterval(parts.tick, 1000));
      // Reports only while a monitor is set (the setting may change while the agent runs).
      const every = options.loadReportIntervalMs ?? 60_000;
      timers.push(setInterval(() => reportSystemLoad(monitor), every));
      feed.update(true);
      fetcher.pump();
    },
    async stop() {
      if (run.stopped) return;
      run.stopped = true;
      for (const timer of timers.splice(0)) clearInterval(timer);
      await slots.close();
      await connection.disconnect();
      await slots.settled();
      const left = store.loadAll(() => undefined).length;
      logger.info('agent stopped', { jobsLeftOnDisk: left });
      feed.update(true);
    },
    reportIdleSeconds(seconds: number) {
      basics.policy.reportIdleSeconds(seconds);
      slots.applyPolicy();
      parts.afterProbe();
    },
  };
}

export function createAgent(options: AgentOptions): Agent {
  const basics = agentBasics(options);
  const { run, logger, policy, dataDir } = basics;
  const { runner, docker } = containerEngine(options, dataDir, logger);
  const { channel, connection } = agentConnection(basics, {
    onChange: () => feed.update(),
    onOnline: () => fetcher.pump(),
    agentState: () => agentStateLine(status()),
  });
  const exchange = managerExchange(channel, basics);
  const adminOrders = attachAdminOrders({
    dataDir,
    logger: logger.child('admin'),
    policy,
    exchange,
    onChange: () => {
      slots.applyPolicy();
      afterProbe();
    },
  });
  const monitor = new AgentMonitor(
    channel,
    () => monitorAddresses(run.settings.monitorAddress, options.monitorAddress),
    monitorComponent('agent', basics.resource),
  );
  const jobParts: JobParts = {
    exchange,
    runner,
    docker,
    monitor,
    handshakeLock: new SerialLock(),
  };
  const afterProbe = (): void => {
    feed.update();
    fetcher.pump();
  };
  const notifier = new AgentNotifier((notification) => {
    logger.info('notification', { kind: notification.kind, title: notification.title });
    basics.events.emit('notification', notification);
  });
  const slots = jobSlots(basics, jobParts, {
    afterProbe,
    onChange: () => feed.update(),
    onFreed: () => {
      // Finish then pause: the last running job has ended.
      if (policy.finishing && slots.size === 0) void commands.finishThenPause();
      fetcher.pump();
    },
    onJobDone: (record) => notifier.jobEnded(record),
  });
  const sampleSensors = sensorSampler(basics, { slots, runner, afterProbe });
  const fetcher = workFetcher(basics, jobParts, {
    channel,
    slots,
    afterRound: afterProbe,
    allowsNewWork: () => adminOrders.allowsNewWork && (options.allowsNewWork?.() ?? true),
  });

  const status = (): AgentStatus =>
    buildStatus(
      {
        settings: basics.settings,
        policy,
        stopped: () => run.stopped,
        connection: () => connection,
        docker: () => docker.state,
        running: (now) => slots.running(now),
        finishing: () => policy.finishing,
        suspended: () => slots.suspended(),
        admin: () => adminOrders.current,
      },
      Date.now(),
    );
  const feed = new StatusFeed(status, (current) => basics.events.emit('status', current));

  const tick = (): void => {
    if (run.stopped) return;
    if (docker.isDue(Date.now())) void docker.probe().then(afterProbe);
    void sampleSensors();
    notifier.observe({
      wantsConnection: options.channel !== undefined || isConfigured(run.settings),
      online: channel.online,
      dockerAvailable: docker.available,
      engine: docker.state.engine,
    });
    slots.applyPolicy();
    afterProbe();
  };
  const controls = hostControls({
    basics,
    runner,
    docker,
    slots,
    connection,
    monitor,
    feed,
    fetcher,
    tick,
    afterProbe,
    sampleSensors,
  });

  const commands = agentUiCommands(basics, {
    slots,
    connection,
    status,
    feed,
    fetcher,
    checkEngine: () => docker.probe().then(afterProbe),
  });
  return {
    commands,
    events: basics.events,
    logger,
    dataDir,
    runner,
    get session() {
      return connection.session;
    },
    start: controls.start,
    stop: controls.stop,
    reportIdleSeconds: controls.reportIdleSeconds,
    refreshPolicy: () => {
      slots.applyLimits();
      slots.applyPolicy();
      afterProbe();
    },
  };
}
