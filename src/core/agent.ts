/**
 * The agent: connects to XMPP, asks managers for work while Docker answers and the policy allows,
 * runs each job through its lifecycle, and serves the UI contract (commands and events) to a
 * host, the Electron main process or the headless `copilot-agent`.
 */
import crypto, { createPublicKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import si from 'systeminformation';
import type Docker from 'dockerode';
import type {
  AgentSettings,
  AgentStatus,
  ConnectionState,
  DockerState,
  JobPhase,
  JobRecord,
  JobsView,
  RunningJob,
  SetSettingsResult,
  UiCommandHandlers,
} from '../contract/ui-contract';
import { applySettingsPatch, CONNECTION_FIELDS, publicSettings } from '../contract/settings';
import type { Command } from '../protocol/commands';
import { backoffDelay, type BackoffOptions } from '../transport/backoff';
import { attachHeartbeatResponder } from '../heartbeat/heartbeat-responder';
import { CopilotSession, type CopilotSessionOptions } from '../transport/copilot-session';
import { AgentSecureLayer } from '../transport/secure-layer';
import { xmppServiceUrl } from '../transport/xmpp-service';
import type { LogLevel, LogRecord, Logger } from '../transport/logger';
import { TypedEmitter } from '../transport/typed-emitter';
import type { AgentHost, AgentHostEvents, AgentHostOptions } from './agent-host';
import { agentActivity, statusLine, type ActivityInput } from './agent-status';
import { DEFAULT_JOB_IMAGE, DockerRunner, type JobRunner } from './docker-runner';
import { errorText } from './error-text';
import { EventLog } from './event-log';
import { buildHostJdl, collectHostFacts, type HostFacts, type SystemInfoSource } from './host-jdl';
import { JobHistory } from './job-history';
import { JobLifecycle } from './job-lifecycle';
import { requestJob } from './job-request';
import { JobStore, type JobInHand } from './job-store';
import { ManagerExchange, SessionChannel, type ProtocolChannel } from './manager-exchange';
import { managerAddresses, ManagerTrust } from './manager-trust';
import { MonitorReporter, monitorComponent } from './monitor-reporter';
import { allowedCores, cpuShare, decideRun, isIdle, ResourcePolicy } from './resource-policy';
import { SerialLock } from './serial-lock';
import { withTimeout } from './with-timeout';
import { storageClient, type StorageClient } from './storage-transfer';

export interface AgentOptions extends AgentHostOptions {
  /** Job container image; default copilot-job:latest (AGENT_JOB_IMAGE). */
  jobImage?: string;
  /** Wall-clock limit per job; default 24 h (AGENT_WALL_CLOCK_LIMIT_SECONDS). */
  wallClockLimitSeconds?: number;
  /** MON_JABBER_ADDRESS; monitoring is off without it. */
  monitorAddress?: string;
  /** XMPP resource; default `agent-<hostname>-<random>`, kept in the data dir. */
  resource?: string;
  /** The agentHost sent to managers; default the host name. */
  agentHost?: string;
  /** Full XMPP service URL (e.g. xmpp://127.0.0.1:5222); default from settings.xmppServer. */
  xmppService?: string;
  /** Extra CopilotSession options (ack timeouts, reconnect back-off). */
  session?: Partial<CopilotSessionOptions>;
  /** Wait for have_getJob, runJob, have_getJobOutputDir, storeJobOutputDir; default 10 s. */
  replyTimeoutMs?: number;
  /** Back-off between want_getJob rounds nobody answered; default 5 s .. 5 min with jitter. */
  fetchBackoff?: BackoffOptions;
  /** Back-off of output delivery and jobDone retries; default 2 s .. 5 min with jitter. */
  retryBackoff?: BackoffOptions;
  /** Back-off of Docker probes while it is down; default 2 s .. 1 min. */
  dockerBackoff?: BackoffOptions;
  maxUploadAttempts?: number;
  /** How long a finished result waits for a manager to take it (default 6 h, the manager's lease). */
  resultRetentionMs?: number;
  /** How often system load goes to the monitor; default 60 s. */
  loadReportIntervalMs?: number;
  logLevel?: LogLevel;
  /** Also print every log record (the headless agent prints to stderr). */
  echoLog?: (record: LogRecord) => void;
  docker?: Docker;
  /** Test seams: a fake runner, storage, XMPP channel and systeminformation. */
  runner?: JobRunner;
  storage?: StorageClient;
  channel?: ProtocolChannel;
  systemInfo?: SystemInfoSource;
  /** Probes Docker; default DockerRunner.probe (or always available with a fake runner). */
  probeDocker?: () => Promise<DockerState>;
}

export interface Agent extends AgentHost {
  readonly logger: Logger;
  /** The XMPP session when the agent made one (not with options.channel). */
  readonly session: CopilotSession | undefined;
  readonly runner: JobRunner;
  readonly dataDir: string;
}

interface JobEntry {
  lifecycle: JobLifecycle;
  phase: JobPhase;
  receivedAt: string;
  startedAt: string | null;
  frozen: boolean;
}

const DEFAULT_FETCH_BACKOFF: BackoffOptions = { initialMs: 5_000, maxMs: 300_000, jitter: 0.5 };
const DEFAULT_RETRY_BACKOFF: BackoffOptions = { initialMs: 2_000, maxMs: 300_000, jitter: 0.3 };
const DEFAULT_DOCKER_BACKOFF: BackoffOptions = { initialMs: 2_000, maxMs: 60_000, jitter: 0.3 };
const DEFAULT_WALL_CLOCK_SECONDS = 24 * 3600;
const DEFAULT_RESULT_RETENTION_MS = 6 * 3600 * 1000;

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

function isConfigured(settings: AgentSettings): boolean {
  return (
    settings.jobManagerAddress !== '' &&
    settings.xmppServer !== '' &&
    settings.xmppDomain !== '' &&
    settings.xmppUsername !== '' &&
    settings.xmppPassword !== ''
  );
}

/** Secure mode's message layer and the TLS options, from the volunteer's settings. */
export function sessionSecurity(
  settings: AgentSettings,
): Pick<CopilotSessionOptions, 'layers' | 'tls'> {
  const security: Pick<CopilotSessionOptions, 'layers' | 'tls'> = {};
  if (settings.secureMode) {
    let managerPublicKey: KeyObject;
    try {
      managerPublicKey = createPublicKey(settings.jobManagerPublicKey);
    } catch (error) {
      const reason = errorText(error);
      throw new Error(`secure mode: the job manager's public key cannot be read (${reason})`);
    }
    const localJid = `${settings.xmppUsername}@${settings.xmppDomain}`;
    security.layers = [new AgentSecureLayer({ localJid, managerPublicKey })];
  }
  if (settings.requireTls || settings.xmppCaCertificate !== '') {
    security.tls = { requireTls: settings.requireTls };
    if (settings.xmppCaCertificate !== '') security.tls.ca = settings.xmppCaCertificate;
  }
  return security;
}

export function createAgent(options: AgentOptions): Agent {
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let settings: AgentSettings = { ...options.settings };
  const events = new TypedEmitter<AgentHostEvents>();
  const eventLog = new EventLog({
    dir: path.join(dataDir, 'logs'),
    minimumLevel: options.logLevel ?? 'info',
    echo: options.echoLog,
  });
  eventLog.onEntry((entry) => events.emit('log', entry));
  const logger = eventLog.logger('agent');
  const policy = new ResourcePolicy(settings);
  const history = new JobHistory(dataDir);
  const store = new JobStore(dataDir);
  const agentId = crypto.createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const dockerRunner = options.runner
    ? undefined
    : new DockerRunner({ docker: options.docker, logger: logger.child('docker'), agentId });
  const runner: JobRunner = options.runner ?? (dockerRunner as DockerRunner);
  const storage = options.storage ?? storageClient();
  const probeDocker =
    options.probeDocker ??
    (dockerRunner
      ? () => dockerRunner.probe()
      : () => Promise.resolve<DockerState>({ available: true, message: 'test runner' }));
  const resource = options.resource ?? stableResource(dataDir);
  const agentHost = options.agentHost ?? os.hostname();
  const systemInfo: SystemInfoSource = options.systemInfo ?? si;
  const hostCpuCount = os.cpus().length || 1;

  const sessionChannel = options.channel ? undefined : new SessionChannel();
  const channel: ProtocolChannel = options.channel ?? (sessionChannel as SessionChannel);
  const trust = new ManagerTrust(
    () => managerAddresses(settings.jobManagerAddress),
    logger.child('trust'),
  );
  const exchange = new ManagerExchange(channel, trust, logger.child('exchange'), (from, command) =>
    onOtherCommand(from, command),
  );
  const monitor = new MonitorReporter(channel, options.monitorAddress, monitorComponent(resource));
  const handshakeLock = new SerialLock();

  let session: CopilotSession | undefined;
  let connection: ConnectionState = options.channel ? 'online' : 'not-configured';
  let connectionMessage = '';
  let docker: DockerState = { available: false, message: 'Docker not checked yet' };
  let stopped = true;
  let abort = new AbortController();
  const jobs = new Map<string, JobEntry>();
  const settling = new Set<Promise<void>>();
  let fetching = false;
  let fetchAttempt = 0;
  let nextFetchAt = 0;
  let dockerAttempt = 0;
  let nextDockerProbeAt = 0;
  let probing = false;
  let connectAttempt = 0;
  let connectTimer: NodeJS.Timeout | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  let loadTimer: NodeJS.Timeout | undefined;
  let lastStatusKey = '';
  let lastStatusAt = 0;
  let facts: HostFacts | undefined;
  let factsAt = 0;

  function onOtherCommand(from: string, command: Command): void {
    // The Heartbeat responder attached to the session answers these.
    if (command.command.startsWith('Heartbeat:')) return;
    logger.debug('unexpected command ignored', { command: command.command, from });
  }

  // ---- status -------------------------------------------------------------------------------

  function runningJobs(now: number): RunningJob[] {
    const wallClockLimitMs = (options.wallClockLimitSeconds ?? DEFAULT_WALL_CLOCK_SECONDS) * 1000;
    return [...jobs.values()].map((entry) => {
      const state = entry.lifecycle.state;
      const since = Date.parse(entry.startedAt ?? entry.receivedAt);
      return {
        jobId: state.job.id,
        manager: state.manager,
        command: state.job.command,
        phase: entry.phase,
        receivedAt: entry.receivedAt,
        startedAt: entry.startedAt,
        elapsedMs: Math.max(0, now - since),
        wallClockLimitMs,
        cpuSeconds: runner.cpuSeconds(state.job.id),
      };
    });
  }

  function status(): AgentStatus {
    const now = Date.now();
    const running = runningJobs(now);
    const policyState = policy.state(now);
    const { pausedUntil } = policyState;
    const decision = decideRun(policyState, now);
    const input: ActivityInput = { stopped, connection, docker, decision, pausedUntil, running };
    const activity = agentActivity(input);
    return {
      activity,
      statusLine: statusLine(activity, input),
      connection,
      connectionMessage,
      jid: session?.jid || (options.channel ? resource : null),
      jobManager: settings.jobManagerAddress,
      docker,
      paused: settings.paused || pausedUntil !== null,
      pausedUntil: pausedUntil === null ? null : new Date(pausedUntil).toISOString(),
      idle: {
        required: settings.runOnlyWhenIdle,
        idleSeconds: policyState.idleSeconds ?? 0,
        thresholdSeconds: settings.idleMinutes * 60,
        isIdle: isIdle(policyState),
      },
      slots: { total: settings.jobSlots, busy: jobs.size },
      cpuShare: cpuShare(settings),
      running,
    };
  }

  function emitStatus(force = false): void {
    const current = status();
    const { idle } = current;
    const key = JSON.stringify({
      ...current,
      // The UI shows idle time in whole minutes, and only when jobs wait for idle: a new reading
      // (every few seconds from the desktop) is news only when that display changes.
      idle: idle.required
        ? { ...idle, idleSeconds: Math.floor(idle.idleSeconds / 60) }
        : { required: false, thresholdSeconds: idle.thresholdSeconds },
      running: current.running.map((job) => [job.jobId, job.phase]),
    });
    const now = Date.now();
    const periodic = current.running.length > 0 && now - lastStatusAt >= 5000;
    if (!force && key === lastStatusKey && !periodic) return;
    lastStatusKey = key;
    lastStatusAt = now;
    events.emit('status', current);
  }

  // ---- docker -------------------------------------------------------------------------------

  async function probe(): Promise<void> {
    if (probing) return;
    probing = true;
    try {
      const state = await probeDocker();
      if (state.available !== docker.available) {
        if (state.available) logger.info('Docker is available', { version: state.version });
        else
          logger.warn('Docker is not running; jobs wait until it is back', {
            detail: state.message,
          });
      }
      docker = state.available ? state : { ...state, message: 'Docker is not running' };
      if (state.available) {
        dockerAttempt = 0;
        nextDockerProbeAt = Date.now() + 30_000;
      } else {
        nextDockerProbeAt =
          Date.now() + backoffDelay(dockerAttempt, options.dockerBackoff ?? DEFAULT_DOCKER_BACKOFF);
        dockerAttempt += 1;
      }
    } finally {
      probing = false;
    }
  }

  // ---- connection ---------------------------------------------------------------------------

  async function connect(): Promise<void> {
    if (options.channel || stopped) return;
    if (!isConfigured(settings)) {
      connection = 'not-configured';
      connectionMessage = 'Set the Jabber server, domain, ID, password and job manager address';
      return;
    }
    let security: Pick<CopilotSessionOptions, 'layers' | 'tls'>;
    try {
      security = sessionSecurity(settings);
    } catch (error) {
      // A key that cannot be read will not get better by retrying: wait for new settings.
      connection = 'offline';
      connectionMessage = errorText(error);
      logger.error('cannot connect', { error: connectionMessage });
      emitStatus();
      return;
    }
    const current = new CopilotSession({
      service: options.xmppService ?? xmppServiceUrl(settings.xmppServer),
      domain: settings.xmppDomain,
      username: settings.xmppUsername,
      password: settings.xmppPassword,
      resource,
      ...security,
      logger: logger.child('xmpp'),
      ...options.session,
    });
    session = current;
    sessionChannel?.attach(current);
    if (settings.heartbeatChatServer && settings.heartbeatChatRoom) {
      attachHeartbeatResponder(current, {
        chatServer: settings.heartbeatChatServer,
        chatRoom: settings.heartbeatChatRoom,
        nick: resource,
        logger: logger.child('heartbeat'),
      });
    }
    current.events.on('online', (jid) => {
      if (session !== current) return;
      connection = 'online';
      connectionMessage = `Connected as ${jid}`;
      emitStatus();
      pump();
    });
    current.events.on('offline', () => {
      if (session !== current) return;
      connection = 'offline';
      connectionMessage = 'Connection lost; reconnecting';
      emitStatus();
    });
    current.events.on('error', () => undefined);
    connection = 'connecting';
    connectionMessage = `Connecting to ${settings.xmppServer}`;
    emitStatus();
    try {
      await current.start();
      connectAttempt = 0;
    } catch (error) {
      if (session !== current) return;
      const text = errorText(error);
      connection = /login refused/.test(text) ? 'auth-failed' : 'offline';
      connectionMessage = text;
      const delay = backoffDelay(connectAttempt, {
        initialMs: connection === 'auth-failed' ? 60_000 : 2_000,
        maxMs: 300_000,
        jitter: 0.3,
      });
      connectAttempt += 1;
      logger.warn('cannot connect to the XMPP server; retrying', { error: text, inMs: delay });
      emitStatus();
      clearTimeout(connectTimer);
      connectTimer = setTimeout(() => {
        if (session === current && !stopped) void connect();
      }, delay);
    }
  }

  async function disconnect(): Promise<void> {
    clearTimeout(connectTimer);
    const current = session;
    session = undefined;
    sessionChannel?.attach(undefined);
    if (current) await current.stop();
  }

  // ---- jobs ---------------------------------------------------------------------------------

  function applyPolicyToJobs(): void {
    const run = policy.decide(Date.now()).run;
    for (const [jobId, entry] of jobs) {
      if (entry.phase !== 'running' && entry.phase !== 'paused') continue;
      if (!run && !entry.frozen) {
        entry.frozen = true;
        entry.phase = 'paused';
        logger.info('pausing the running job', { jobId });
        runner.pause(jobId).catch((error: unknown) => {
          logger.warn('could not pause the job', { jobId, error: String(error) });
        });
      } else if (run && entry.frozen) {
        entry.frozen = false;
        entry.phase = 'running';
        logger.info('resuming the job', { jobId });
        runner.resume(jobId).catch((error: unknown) => {
          logger.warn('could not resume the job', { jobId, error: String(error) });
        });
      }
    }
  }

  function applyLimitsToJobs(): void {
    const limits = policy.limits(hostCpuCount);
    for (const jobId of jobs.keys()) {
      runner.update(jobId, limits).catch((error: unknown) => {
        logger.debug('could not update the job container limits', { jobId, error: String(error) });
      });
    }
  }

  function startLifecycle(inHand: JobInHand): void {
    const signal = abort.signal;
    const lifecycle = new JobLifecycle(
      {
        exchange,
        runner,
        storage,
        store,
        logger: logger.child('job'),
        monitor,
        handshakeLock,
        agentHost,
        limits: () => policy.limits(hostCpuCount),
        mayRun: () => policy.decide(Date.now()).run,
        image: options.jobImage ?? DEFAULT_JOB_IMAGE,
        wallClockLimitMs: (options.wallClockLimitSeconds ?? DEFAULT_WALL_CLOCK_SECONDS) * 1000,
        allowJobNetwork: () => settings.allowJobNetwork,
        replyTimeoutMs: options.replyTimeoutMs ?? 10_000,
        retry: options.retryBackoff ?? DEFAULT_RETRY_BACKOFF,
        maxUploadAttempts: options.maxUploadAttempts ?? 10,
        resultRetentionMs: options.resultRetentionMs ?? DEFAULT_RESULT_RETENTION_MS,
        onPhase: (jobId, phase) => {
          const entry = jobs.get(jobId);
          if (!entry) return;
          entry.phase = phase === 'running' && entry.frozen ? 'paused' : phase;
          emitStatus();
        },
        onStarted: (jobId, startedAt, paused) => {
          const entry = jobs.get(jobId);
          if (!entry) return;
          entry.startedAt = startedAt;
          // What the runner was told when it made the container; the policy may have changed
          // since, and applying it now reaches the runner before it freezes the container.
          entry.frozen = paused;
          entry.phase = paused ? 'paused' : 'running';
          logger.info('job started', { jobId, frozen: paused });
          applyPolicyToJobs();
        },
        signal,
      },
      inHand,
    );
    const entry: JobEntry = {
      lifecycle,
      phase: inHand.phase === 'finished' || inHand.phase === 'uploaded' ? 'uploading' : 'fetching',
      receivedAt: inHand.receivedAt,
      startedAt: inHand.result?.startedAt ?? null,
      frozen: false,
    };
    jobs.set(inHand.job.id, entry);
    emitStatus();
    const done = lifecycle
      .run()
      .then((record: JobRecord) => {
        history.append(record);
        logger.info('job complete', {
          jobId: record.jobId,
          state: record.state,
          exitCode: record.exitCode,
        });
        events.emit('job', record);
      })
      .catch((error: unknown) => {
        const text = errorText(error);
        if (signal.aborted) {
          logger.info('job left for the next start', {
            jobId: inHand.job.id,
            phase: lifecycle.state.phase,
          });
          return;
        }
        logger.error('job lifecycle failed; it stays on disk and is retried', {
          jobId: inHand.job.id,
          error: text,
        });
        // Most often Docker went away: ask it now, before the freed slot fetches another job
        // (pump waits for the probe), rather than at the next probe up to 30 s away.
        void probe().then(() => {
          emitStatus();
          pump();
        });
        const retry = (): void => {
          if (stopped || jobs.has(inHand.job.id) || !store.exists(inHand.job.id)) return;
          if (!docker.available) {
            setTimeout(retry, 30_000).unref();
            return;
          }
          const stored = store.load(inHand.job.id, reportUnreadable);
          if (stored) resumeStored([stored]);
        };
        setTimeout(retry, 30_000).unref();
      })
      .finally(() => {
        jobs.delete(inHand.job.id);
        settling.delete(done);
        emitStatus();
        pump();
      });
    settling.add(done);
  }

  function reportUnreadable(jobId: string, error: Error): void {
    logger.error('unreadable job state file; job cannot be resumed', {
      jobId,
      error: error.message,
    });
  }

  function resumeStored(stored: readonly JobInHand[]): void {
    for (const inHand of stored) {
      if (jobs.has(inHand.job.id)) continue;
      logger.info('resuming a job in hand from an earlier run', {
        jobId: inHand.job.id,
        phase: inHand.phase,
      });
      startLifecycle(inHand);
    }
  }

  async function hostJdl(): Promise<string> {
    if (!facts || Date.now() - factsAt > 60_000) {
      facts = await collectHostFacts(systemInfo, dataDir);
      factsAt = Date.now();
    }
    return buildHostJdl(facts, {
      cpuCores: allowedCores(settings, hostCpuCount),
      memoryLimitMb: settings.memoryLimitMb,
      diskLimitMb: settings.diskLimitMb,
      jobSlots: settings.jobSlots,
    });
  }

  async function fetchOne(): Promise<void> {
    const jdl = await hostJdl();
    const result = await handshakeLock.run(() =>
      requestJob({
        exchange,
        logger: logger.child('request'),
        managers: managerAddresses(settings.jobManagerAddress),
        agentHost,
        jdl,
        replyTimeoutMs: options.replyTimeoutMs ?? 10_000,
      }),
    );
    if (result.kind === 'job') {
      const { job, manager, jmJobData } = result.received;
      fetchAttempt = 0;
      nextFetchAt = 0;
      if (jobs.has(job.id) || store.exists(job.id)) {
        logger.warn('runJob for a job already in hand ignored', { jobId: job.id, manager });
        return;
      }
      logger.info('job received', { jobId: job.id, manager, command: job.command });
      const inHand: JobInHand = {
        job,
        manager,
        phase: 'received',
        receivedAt: new Date().toISOString(),
      };
      if (jmJobData !== undefined) inHand.jmJobData = jmJobData;
      if (stopped) {
        // Arrived while stopping: keep it for the next start rather than drop it.
        store.save(inHand);
        return;
      }
      startLifecycle(inHand);
      return;
    }
    if (result.kind === 'cooling-down') {
      nextFetchAt = result.until;
      logger.debug('every manager asked us to wait', {
        until: new Date(result.until).toISOString(),
      });
      return;
    }
    const delay = backoffDelay(fetchAttempt, options.fetchBackoff ?? DEFAULT_FETCH_BACKOFF);
    fetchAttempt += 1;
    nextFetchAt = Date.now() + delay;
    if (result.kind === 'no-offer') logger.debug('no manager offered a job', { retryInMs: delay });
    else
      logger.info('no job from manager', {
        manager: result.manager,
        reason: result.reason,
        retryInMs: delay,
      });
  }

  function pump(): void {
    // A probe under way pumps when it is done.
    if (stopped || fetching || probing) return;
    const now = Date.now();
    if (!docker.available || !channel.online) return;
    if (!policy.decide(now).run) return;
    if (jobs.size >= settings.jobSlots || now < nextFetchAt) return;
    if (!isConfigured(settings) && !options.channel) return;
    fetching = true;
    fetchOne()
      .catch((error: unknown) => {
        logger.warn('asking for a job failed', {
          error: errorText(error),
        });
        nextFetchAt =
          Date.now() + backoffDelay(fetchAttempt++, options.fetchBackoff ?? DEFAULT_FETCH_BACKOFF);
      })
      .finally(() => {
        fetching = false;
        emitStatus();
        pump();
      });
  }

  function tick(): void {
    if (stopped) return;
    if (Date.now() >= nextDockerProbeAt) {
      void probe().then(() => {
        emitStatus();
        pump();
      });
    }
    applyPolicyToJobs();
    emitStatus();
    pump();
  }

  function reportLoad(): void {
    const [one, five, fifteen] = os.loadavg();
    monitor.value('system.load.1min', one ?? 0);
    monitor.value('system.load.5min', five ?? 0);
    monitor.value('system.load.15min', fifteen ?? 0);
  }

  // ---- UI commands --------------------------------------------------------------------------

  async function persist(): Promise<void> {
    await options.persistSettings?.(settings);
  }

  const commands: UiCommandHandlers = {
    getStatus: () => Promise.resolve(status()),
    getJobs: (limit?: number): Promise<JobsView> =>
      Promise.resolve({
        running: runningJobs(Date.now()),
        history: history.list(limit ?? 100),
        totals: history.totals(),
      }),
    getSettings: () => Promise.resolve(publicSettings(settings)),
    setSettings: async (patch): Promise<SetSettingsResult> => {
      const applied = applySettingsPatch(settings, patch ?? {});
      if (applied.errors.length > 0) return { ok: false, errors: applied.errors };
      const previous = settings;
      const previousLimits = JSON.stringify(policy.limits(hostCpuCount));
      settings = applied.settings;
      policy.update(settings);
      await persist();
      logger.info('settings changed', { fields: Object.keys(patch ?? {}).join(',') });
      if (JSON.stringify(policy.limits(hostCpuCount)) !== previousLimits) applyLimitsToJobs();
      applyPolicyToJobs();
      const reconnect =
        CONNECTION_FIELDS.some((field) => previous[field] !== settings[field]) && !options.channel;
      if (reconnect && !stopped) {
        await disconnect();
        connectAttempt = 0;
        void connect();
      }
      emitStatus(true);
      pump();
      return { ok: true, settings: publicSettings(settings) };
    },
    pause: async (minutes?: number): Promise<AgentStatus> => {
      if (minutes !== undefined) {
        if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 7 * 24 * 60) {
          throw new Error('pause minutes must be between 0 and 10080');
        }
        policy.pauseFor(minutes, Date.now());
        logger.info('paused', { minutes });
      } else if (!settings.paused) {
        settings = { ...settings, paused: true };
        policy.update(settings);
        await persist();
        logger.info('paused');
      }
      applyPolicyToJobs();
      emitStatus(true);
      return status();
    },
    resume: async (): Promise<AgentStatus> => {
      policy.clearTimedPause();
      if (settings.paused) {
        settings = { ...settings, paused: false };
        policy.update(settings);
        await persist();
      }
      logger.info('resumed');
      applyPolicyToJobs();
      emitStatus(true);
      pump();
      return status();
    },
    getLog: (limit?: number) => Promise.resolve(eventLog.entries(limit ?? 200)),
  };

  const agent: Agent = {
    commands,
    events,
    logger,
    dataDir,
    runner,
    get session() {
      return session;
    },
    async start() {
      if (!stopped) return;
      stopped = false;
      abort = new AbortController();
      const unreadable = history.load();
      if (unreadable > 0)
        logger.warn('unreadable lines in the job history skipped', { lines: unreadable });
      logger.info('agent starting', {
        dataDir,
        resource,
        image: options.jobImage ?? DEFAULT_JOB_IMAGE,
      });
      await probe();
      const stored = store.loadAll(reportUnreadable);
      if (docker.available) {
        const inHand = stored.map((state) => state.job.id);
        const swept = await runner.sweep(inHand).catch(() => 0);
        if (swept > 0) logger.info('removed containers left by an earlier run', { count: swept });
      }
      resumeStored(stored);
      void connect();
      tickTimer = setInterval(tick, 1000);
      if (monitor.enabled) {
        loadTimer = setInterval(reportLoad, options.loadReportIntervalMs ?? 60_000);
      }
      emitStatus(true);
      pump();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(tickTimer);
      clearInterval(loadTimer);
      abort.abort();
      await runner.killAll().catch(() => undefined);
      await disconnect();
      await withTimeout(Promise.allSettled([...settling]), 15_000, 'jobs still settling').catch(
        () => undefined,
      );
      logger.info('agent stopped', { jobsLeftOnDisk: store.loadAll(() => undefined).length });
      emitStatus(true);
    },
    reportIdleSeconds(seconds: number) {
      policy.reportIdleSeconds(seconds);
      applyPolicyToJobs();
      emitStatus();
      pump();
    },
  };
  return agent;
}
