/**
 * Typed Co-Pilot protocol commands (section 2.2 of the technical report). Attribute names are
 * the report's; the TypeScript field names are the same so a reader can map one to the other.
 */

/** Job description carried in runJob's nested <job> element (2.2.1.4). */
export interface JobDescription {
  id: string;
  command: string;
  /** Whitespace-separated arguments; they are passed as an argv array, never to a shell. */
  arguments: string;
  /** Whitespace-separated NAME=value pairs. */
  environment: string;
  /** Whitespace-separated package names. */
  packages: string;
  /** Whitespace-separated file names to fetch from chirpUrl + inputDir. */
  inputFiles: string;
  /** Storage address: an http(s) base URL, or host:port of a Chirp server. */
  chirpUrl: string;
  inputDir: string;
  outputDir: string;
  validation?: string;
  /**
   * Ours, not the report's: the container image the job runs in, pinned by digest
   * (`registry/repository@sha256:<64 hex>`). Report-only agents ignore the attribute and run
   * their own image; `packages` keeps the report's meaning.
   */
  image?: string;
}

export interface WantGetJob {
  command: 'want_getJob';
  agentHost: string;
  agentIP?: string;
  jdl: string;
  jmJobData?: string;
}

export interface HaveGetJob {
  command: 'have_getJob';
  requireFile?: string;
}

export interface GetJob {
  command: 'getJob';
  agentHost: string;
  agentIP?: string;
  jdl: string;
  jmJobData?: string;
}

export interface RunJob {
  command: 'runJob';
  job: JobDescription;
  jmJobData?: string;
}

export interface WantGetJobOutputDir {
  command: 'want_getJobOutputDir';
  agentHost: string;
  agentIP?: string;
  jobID: string;
  jmJobData?: string;
}

export interface HaveGetJobOutputDir {
  command: 'have_getJobOutputDir';
}

export interface GetJobOutputDir {
  command: 'getJobOutputDir';
  agentHost: string;
  agentIP?: string;
  jobID: string;
  jmJobData?: string;
}

export interface StoreJobOutputDir {
  command: 'storeJobOutputDir';
  /** The report calls it "Chirp server host and port"; here also an http(s) base URL. */
  outputChirpUrl: string;
  outputDir: string;
  jobID: string;
  jmJobData?: string;
}

export interface JobDone {
  command: 'jobDone';
  exitCode: number;
  agentHost: string;
  /** e.g. 'done', 'failed', 'timeout', 'validationFailed' */
  state: string;
  jobID: string;
  jmJobData?: string;
}

/**
 * Ours, not the report's: a manager tells the agent holding a job that it will not take that
 * job's output or result, so the agent stops spending a slot on it. Report-only agents ignore
 * it (an unknown command), as they ignore any command they do not know.
 */
export interface JobRefused {
  command: 'jobRefused';
  jobID: string;
  /** `unknown-job`, `lease-lost`: final; the agent drops the job. */
  code: string;
  reason: string;
}

/**
 * Ours, not the report's: the agent holding a job says, while the job runs, that it still runs
 * it, so the manager extends the lease (a job may run far longer than a lease). Sent noack;
 * report-only managers ignore it, and their leases behave as before.
 */
export interface RenewLease {
  command: 'renewLease';
  agentHost: string;
  jobID: string;
  jmJobData?: string;
}

/**
 * The original manager's RequestCooldown answer to an agent that asks too often: wait before
 * asking this manager again. It carries no duration there (the cooldown was 60 s); `seconds`
 * is optional.
 */
export interface Sleep {
  command: 'sleep';
  seconds?: number;
}

/** What an admin may order an agent to do (AdminOrder). */
export const ADMIN_ORDERS = ['drain', 'pause', 'resume'] as const;
export type AdminOrderName = (typeof ADMIN_ORDERS)[number];

/**
 * Ours, not the report's: a project admin orders an agent to drain (finish its jobs and take no
 * more), pause or resume. Agents take it only from the project's configured admin accounts;
 * report-only agents ignore it as an unknown command.
 */
export interface AdminOrder {
  command: 'adminOrder';
  order: AdminOrderName;
  /** Shown to the volunteer and in the agent's event log. */
  reason?: string;
}

export interface Redirect {
  command: 'redirect';
  /** JID of the component the inner command is to be sent to. */
  referral: string;
  info: Command;
}

export interface ReportEvent {
  command: 'reportEvent';
  component: string;
  event: string;
}

export interface ReportEventDuration {
  command: 'reportEventDuration';
  component: string;
  event: string;
  /** Milliseconds. */
  duration: number;
}

export interface ReportEventValue {
  command: 'reportEventValue';
  component: string;
  event: string;
  value: number;
}

export const STATUS_COMPONENTS = [
  'systemLoad',
  'diskUsage',
  'memoryUsage',
  'runningProcesses',
] as const;
export type StatusComponent = (typeof STATUS_COMPONENTS)[number];

export interface HeartbeatGetStatus {
  command: 'Heartbeat:getStatus';
  component: string;
}

export interface HaveStatus {
  command: 'haveStatus';
  component: string;
  status: string;
}

export interface HeartbeatPing {
  command: 'Heartbeat:ping';
}

export interface Pong {
  command: 'pong';
}

/**
 * Secure-mode envelope (2.2.7): an <info> with no command attribute, carrying session_key and a
 * nested <info> whose only attribute is the ciphertext. `command` is ours, never on the wire.
 */
export interface SecureEnvelope {
  command: 'secure';
  /** RSA-OAEP wrapped session key; sent with requests, absent from replies. */
  sessionKey?: string;
  /** Identifies the session key for replies and later requests. */
  keyId: string;
  nonce: string;
  ciphertext: string;
}

export type Command =
  | WantGetJob
  | HaveGetJob
  | GetJob
  | RunJob
  | WantGetJobOutputDir
  | HaveGetJobOutputDir
  | GetJobOutputDir
  | StoreJobOutputDir
  | JobDone
  | JobRefused
  | RenewLease
  | Sleep
  | AdminOrder
  | Redirect
  | ReportEvent
  | ReportEventDuration
  | ReportEventValue
  | HeartbeatGetStatus
  | HaveStatus
  | HeartbeatPing
  | Pong
  | SecureEnvelope;

export type CommandName = Command['command'];
export type CommandOf<N extends CommandName> = Extract<Command, { command: N }>;
