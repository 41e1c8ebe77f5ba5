/** What createAgent takes (AgentOptions) and gives (Agent), and the defaults it applies. */
import type Docker from 'dockerode';
import type { DockerState } from '../contract/ui-contract';
import type { ContainerEngine } from './container-engine';
import type { BackoffOptions } from '../base/backoff';
import type { CopilotSession, CopilotSessionOptions } from '../transport/copilot-session';
import type { LogLevel, LogRecord, Logger } from '../base/logger';
import type { AgentHost, AgentHostOptions } from './agent-host';
import type { JobRunner } from './docker-runner';
import type { SystemInfoSource } from './host-jdl';
import type { RunProgram, SensorSource } from './host-sensors';
import type { ProtocolChannel } from './manager-exchange';
import type { RunDecision } from './resource-policy';
import type { StorageClient } from './storage-transfer';

export interface AgentOptions extends AgentHostOptions {
  /** Job container image; default copilot-job:latest (AGENT_JOB_IMAGE). */
  jobImage?: string;
  /** Disk kept for the job images the agent pulled (runJob's `image`); default 10 GiB. */
  jobImageCacheBytes?: number;
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
  /**
   * How often a running job's lease is renewed with its manager; default 30 min, well inside
   * the manager's lease (JM_LEASE_SECONDS, 6 h by default).
   */
  leaseRenewalMs?: number;
  /** How long a finished result waits for a manager to take it (default 6 h, the manager's lease). */
  resultRetentionMs?: number;
  /** How often system load goes to the monitor; default 60 s. */
  loadReportIntervalMs?: number;
  logLevel?: LogLevel;
  /** Also print every log record (the headless agent prints to stderr). */
  echoLog?: (record: LogRecord) => void;
  docker?: Docker;
  /** Where the container engine is looked for; default this computer's places (container-engine.ts). */
  engine?: ContainerEngine;
  /** Test seams: a fake runner, storage, XMPP channel and systeminformation. */
  runner?: JobRunner;
  storage?: StorageClient;
  channel?: ProtocolChannel;
  systemInfo?: SystemInfoSource;
  /**
   * Battery, CPU temperature and load for the "when to compute" rules; default systeminformation,
   * null: no readings (the rules that need them never block).
   */
  sensors?: SensorSource | null;
  /** How often the sensors are read; default 10 s. */
  sensorIntervalMs?: number;
  /** Read the idle time from logind or /dev/input as well (default true); `loginctl` runner. */
  readIdle?: boolean;
  runProgram?: RunProgram;
  /** Probes Docker; default DockerRunner.probe (or always available with a fake runner). */
  probeDocker?: () => Promise<DockerState>;
  /**
   * One project of several (project-set.ts): its own pause (the volunteer paused this project),
   * consulted after the volunteer's settings like a project admin's hold.
   */
  hold?: () => RunDecision | null;
  /** One project of several: its part of the CPU the volunteer allows, 0..1 (default 1). */
  cpuFactor?: () => number;
  /** One project of several: false while it is being detached (no new work); default true. */
  allowsNewWork?: () => boolean;
  /** One project of several: the other projects' jobs' CPU seconds (not "other programs"). */
  otherJobsCpuSeconds?: () => number;
}

export interface Agent extends AgentHost {
  readonly logger: Logger;
  /** The XMPP session when the agent made one (not with options.channel). */
  readonly session: CopilotSession | undefined;
  readonly runner: JobRunner;
  readonly dataDir: string;
  /** Applies the policy and the containers' limits again (a hold or the CPU factor changed). */
  refreshPolicy(): void;
}

export const DEFAULT_FETCH_BACKOFF: BackoffOptions = {
  initialMs: 5_000,
  maxMs: 300_000,
  jitter: 0.5,
};
export const DEFAULT_RETRY_BACKOFF: BackoffOptions = {
  initialMs: 2_000,
  maxMs: 300_000,
  jitter: 0.3,
};
export const DEFAULT_DOCKER_BACKOFF: BackoffOptions = {
  initialMs: 2_000,
  maxMs: 60_000,
  jitter: 0.3,
};
export const DEFAULT_SENSOR_INTERVAL_MS = 10_000;
export const DEFAULT_WALL_CLOCK_SECONDS = 24 * 3600;
export const DEFAULT_LEASE_RENEWAL_MS = 30 * 60 * 1000;
export const DEFAULT_RESULT_RETENTION_MS = 6 * 3600 * 1000;
