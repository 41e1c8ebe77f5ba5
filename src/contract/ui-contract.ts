/**
 * The one UI contract. Electron's main process serves it over IPC, the preload exposes it as
 * `window.copilot`, and the headless agent serves it over HTTP on localhost with a token (like
 * BOINC's GUI RPC). The renderer knows nothing else.
 */

import type { LogLevel } from '../base/log-level';
import type { SettingKeyOfType, SettingsOf, SettingsSpec } from './settings-spec';

export type { LogLevel };

export type ConnectionState =
  'not-configured' | 'connecting' | 'online' | 'offline' | 'auth-failed';

/** What the agent is doing, most important first; drives the tray icon and status line. */
export type AgentActivity =
  | 'running'
  | 'waiting-for-work'
  | 'paused'
  | 'paused-by-rule'
  | 'waiting-for-idle'
  | 'docker-unavailable'
  | 'not-connected'
  | 'stopped';

export type JobPhase =
  | 'fetching'
  | 'downloading'
  /** Pulling the job's own image (runJob's `image`); `RunningJob.pull` has the bytes. */
  | 'pulling'
  | 'starting'
  | 'running'
  | 'paused'
  | 'validating'
  | 'uploading'
  | 'reporting';

/** How a job in the agent's history ended (`running`: not yet). */
export type JobOutcome =
  | 'running'
  | 'done'
  | 'failed'
  | 'timeout'
  | 'validation-failed'
  | 'download-failed'
  | 'upload-failed'
  | 'aborted'
  /** The job's image was not allowed, not found, or not what its digest says: it never ran. */
  | 'image-refused';

export interface RunningJob {
  jobId: string;
  manager: string;
  command: string;
  phase: JobPhase;
  receivedAt: string;
  startedAt: string | null;
  elapsedMs: number;
  wallClockLimitMs: number;
  cpuSeconds: number;
  /** The job's own fraction done (0..1) from $COPILOT_PROGRESS_FILE; null when it wrote none. */
  progress: number | null;
  /** Time still to go, extrapolated from `progress`; null without progress. */
  etaMs: number | null;
  /** While the job's image is pulled (phase `pulling`); absent otherwise. */
  pull?: ImagePullProgress;
  /** The project the job is for, when several are attached (ProjectInfo.name). */
  project?: string;
}

/** Bytes of the job's image pulled so far, over all its layers. */
export interface ImagePullProgress {
  /** The image reference, registry/repository@sha256:…. */
  image: string;
  currentBytes: number;
  /** Null until the registry said how big every layer is. */
  totalBytes: number | null;
}

/**
 * A job in the agent's history (`JobsView.history`). The manager's own record of a queued job is
 * `JobRecord` in manager/job-manager/job-record.ts, with states of its own.
 */
export interface JobHistoryRecord {
  jobId: string;
  manager: string;
  command: string;
  state: JobOutcome;
  exitCode: number | null;
  receivedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cpuSeconds: number;
  wallSeconds: number;
  /** Whether the job's container had network access (it asked, and the volunteer allowed it). */
  network?: boolean;
  error?: string;
  /** The project the job was for, when several are attached (ProjectInfo.name). */
  project?: string;
}

export interface JobTotals {
  jobs: number;
  succeeded: number;
  failed: number;
  cpuHours: number;
  /** Oldest first; `day` is YYYY-MM-DD in local time. */
  perDay: Array<{ day: string; jobs: number }>;
}

export interface JobsView {
  running: RunningJob[];
  history: JobHistoryRecord[];
  totals: JobTotals;
}

/** The container engine that answered: Docker, or Podman through its Docker-compatible API. */
export type ContainerEngineName = 'docker' | 'podman';

export interface DockerState {
  available: boolean;
  message: string;
  version?: string;
  /** Which engine answered (from its /version: Podman names itself there). */
  engine?: ContainerEngineName;
  /** Where it answered: unix:///run/podman/podman.sock, npipe:////./pipe/docker_engine, tcp://… */
  endpoint?: string;
  /** None answered: each place asked, with what it said ("unix:///var/run/docker.sock: no socket"). */
  tried?: string[];
  /** The agent's OS (Node's process.platform: linux, darwin, win32), for what to install. */
  hostPlatform?: string;
}

export interface IdleState {
  required: boolean;
  idleSeconds: number;
  thresholdSeconds: number;
  isIdle: boolean;
}

/** The "when to compute" rules that pause jobs (settings group 'schedule'). */
export type PauseRule = 'outside-schedule' | 'on-battery' | 'battery-low' | 'computer-busy';
/** A rule pausing jobs, or the CPU temperature rule slowing them (a lower CPU quota). */
export type ComputeRule = PauseRule | 'thermal';

export interface RuleState {
  rule: ComputeRule;
  /** e.g. "on battery", "CPU at 91 °C, 60 % speed". */
  reason: string;
  /** The factor of the CPU quota, 1 = the full share (below 1 only for 'thermal'). */
  cpuFactor: number;
}

/**
 * A project admin's order holding the agent (the adminOrder command, ours), until an admin
 * resumes it: 'drain' lets the jobs in hand finish and asks for no more work, 'pause' freezes
 * the jobs. It is separate from the volunteer's pause: each side lifts only its own.
 */
export interface AdminHold {
  order: 'drain' | 'pause';
  /** The admin account (bare JID, lower case) that ordered it. */
  by: string;
  /** The admin's reason (one line, at most 200 characters), or null. */
  reason: string | null;
  /** ISO time the order was taken. */
  since: string;
}

export interface AgentStatus {
  activity: AgentActivity;
  /** One line for the tray tooltip and the status view, e.g. "Running job 42 (3 min)". */
  statusLine: string;
  connection: ConnectionState;
  connectionMessage: string;
  jid: string | null;
  jobManager: string;
  docker: DockerState;
  paused: boolean;
  /** ISO time a timed pause ends, or null. */
  pausedUntil: string | null;
  idle: IdleState;
  slots: { total: number; busy: number };
  /** Fraction of the host's cores jobs may use, 0..1. */
  cpuShare: number;
  running: RunningJob[];
  /** The rule pausing or slowing jobs now; null or absent: none. */
  rule?: RuleState | null;
  /** "Finish then pause": no new work; paused once the running jobs have ended. */
  finishing?: boolean;
  /** Jobs the volunteer suspended (suspendJob) until resumeJob; absent: none. */
  suspendedJobs?: string[];
  /** A project admin's drain or pause (AdminHold); null or absent: none. */
  admin?: AdminHold | null;
  /** The attached projects (src/core/project-set.ts), first attached first; absent: one host agent. */
  projects?: ProjectInfo[];
}

/**
 * One attached project, BOINC style: its own account, manager and jobs, its own pause, and a
 * resource share. The volunteer's computing preferences (CPU limit, memory, disk, schedule, idle,
 * battery) hold for all projects together; the CPU limit is split between the projects that have
 * work running, in proportion to their shares.
 */
export interface ProjectInfo {
  /** 'main' for the first project (the settings' own), a random id for the others. */
  id: string;
  name: string;
  /** The job manager address(es) work is asked from. */
  manager: string;
  /** This computer's account in the project, once connected. */
  jid: string | null;
  activity: AgentActivity;
  statusLine: string;
  /** The volunteer paused this project (setProjectPaused): its jobs are frozen, no new work. */
  paused: boolean;
  /** Resource share, 1..1000 (default 100). */
  share: number;
  /** The fraction of the host's cores this project's jobs may use together now, 0..1. */
  cpuShare: number;
  jobs: { running: number; done: number };
  /** A detach is under way (detachProject 'finish'): its running jobs end first. */
  detaching: boolean;
}

/** Detaching a project: let its running jobs end first, or abort them (their manager is told). */
export type DetachMode = 'finish' | 'abort';

/** What is worth a desktop notification. */
export type NotificationKind = 'job-failed' | 'job-refused' | 'connection-lost' | 'docker-gone';

export interface AgentNotification {
  kind: NotificationKind;
  title: string;
  body: string;
  /** ISO time. */
  time: string;
  jobId?: string;
}

/**
 * The agent's settings: one field per entry of SETTINGS_SPEC (settings-spec.ts), which documents
 * each one and says its default, checks, config variable and form field.
 */
export type AgentSettings = SettingsOf<SettingsSpec>;

type SecretSetting = SettingKeyOfType<'secret'>;

/**
 * What getSettings and setSettings return: the settings with every secret blanked. A password is
 * write-only: the UI can set a new one but never read it back, over IPC or the GUI RPC.
 */
export type PublicSettings = Omit<AgentSettings, SecretSetting> & {
  /** Always empty. In a settings patch, an empty secret means "keep the current one". */
  [K in SecretSetting]: '';
} & {
  /** Whether it is stored (e.g. `xmppPasswordSet`), so the form can say "set; leave empty to keep". */
  [K in SecretSetting as `${K}Set`]: boolean;
};

export interface LogEntry {
  time: string;
  level: LogLevel;
  component: string;
  message: string;
  fields?: Record<string, string | number | boolean | null>;
}

export interface SettingsError {
  field: keyof AgentSettings;
  message: string;
}

export type SetSettingsResult =
  { ok: true; settings: PublicSettings } | { ok: false; errors: SettingsError[] };

/**
 * What an attach link (src/protocol/attach-link.ts) says, shown before the volunteer accepts it:
 * what the project is and what it may do on this computer.
 */
export interface AttachPreview {
  projectName: string;
  /** The XMPP server (`host:port`) and domain the agent will have its account on. */
  xmppServer: string;
  xmppDomain: string;
  /** The job managers work is asked from, and the only accounts whose jobs it runs. */
  managers: string[];
  /** Job messages are encrypted for, and only accepted from, the manager holding this key. */
  secureMode: boolean;
  /** The pinned CA's SHA-256 (64 hex), or null: the server's certificate is publicly signed. */
  caFingerprint256: string | null;
  /** Registries job images may come from; empty: only the built-in image. */
  allowedImageRegistries: string[];
  /** Accounts that may drain, pause or resume this computer. */
  adminAccounts: string[];
  /** The project's Monitor, which this computer reports its load and jobs to; empty: none. */
  monitorAddresses: string[];
  /** A project is configured already: accepting replaces it. */
  replacesProject: string | null;
}

export type AttachResult =
  { ok: true; projectName: string; jid: string } | { ok: false; error: string };

/** Every command: its argument tuple and its result. */
export interface UiCommands {
  getStatus: { args: []; result: AgentStatus };
  getJobs: { args: [limit?: number]; result: JobsView };
  getSettings: { args: []; result: PublicSettings };
  setSettings: { args: [patch: Partial<AgentSettings>]; result: SetSettingsResult };
  pause: { args: [minutes?: number]; result: AgentStatus };
  resume: { args: []; result: AgentStatus };
  /** Take no new work, let the running jobs end, then pause. */
  finishThenPause: { args: []; result: AgentStatus };
  /** Freeze one job's container until resumeJob (the policy may keep it frozen longer). */
  suspendJob: { args: [jobId: string]; result: AgentStatus };
  resumeJob: { args: [jobId: string]; result: AgentStatus };
  /** Kill one job: its manager gets a failed jobDone (state aborted), and it goes to history. */
  abortJob: { args: [jobId: string]; result: AgentStatus };
  getLog: { args: [limit?: number]; result: LogEntry[] };
  /** Reads an attach link (or a .copilot file's text) without acting on it; throws if invalid. */
  previewAttachLink: { args: [link: string]; result: AttachPreview };
  /**
   * Creates this computer's account with the link's invite, then joins the project: the first
   * project, or one more beside those attached (each with its own share of the CPU).
   */
  attachProject: { args: [link: string]; result: AttachResult };
  /**
   * Stops asking the project for work, finishes or aborts its jobs, then forgets its settings and
   * its account's password. Its history stays for the first project, and goes with its directory
   * for the others.
   */
  detachProject: { args: [projectId: string, mode?: DetachMode]; result: AgentStatus };
  /** Freezes (or thaws) one project's jobs and stops (or resumes) asking it for work. */
  setProjectPaused: { args: [projectId: string, paused: boolean]; result: AgentStatus };
  /** A project's resource share, 1..1000. */
  setProjectShare: { args: [projectId: string, share: number]; result: AgentStatus };
  /** Look for the container engine now (the "Check again" button), not at the next probe. */
  checkContainerEngine: { args: []; result: AgentStatus };
}

/** Every event the UI can subscribe to, with its payload. */
export interface UiEvents {
  status: AgentStatus;
  job: JobHistoryRecord;
  log: LogEntry;
  notification: AgentNotification;
}

export type UiCommandName = keyof UiCommands;
export type UiEventName = keyof UiEvents;

export const UI_COMMAND_NAMES = [
  'getStatus',
  'getJobs',
  'getSettings',
  'setSettings',
  'pause',
  'resume',
  'finishThenPause',
  'suspendJob',
  'resumeJob',
  'abortJob',
  'getLog',
  'previewAttachLink',
  'attachProject',
  'checkContainerEngine',
  'detachProject',
  'setProjectPaused',
  'setProjectShare',
] as const satisfies readonly UiCommandName[];

export const UI_EVENT_NAMES = [
  'status',
  'job',
  'log',
  'notification',
] as const satisfies readonly UiEventName[];

export type Unsubscribe = () => void;

/** What `window.copilot` is: each command as an async method, plus `on` for events. */
export type CopilotApi = {
  [K in UiCommandName]: (...args: UiCommands[K]['args']) => Promise<UiCommands[K]['result']>;
} & {
  on<E extends UiEventName>(event: E, listener: (payload: UiEvents[E]) => void): Unsubscribe;
};

/** The handlers a host (Electron main or the headless RPC server) binds to the agent. */
export type UiCommandHandlers = {
  [K in UiCommandName]: (...args: UiCommands[K]['args']) => Promise<UiCommands[K]['result']>;
};

/** IPC channel names: `copilot:<command>` for invoke, `copilot:event:<event>` for pushes. */
export const ipcCommandChannel = (name: UiCommandName): string => `copilot:${name}`;
export const ipcEventChannel = (name: UiEventName): string => `copilot:event:${name}`;

/** Headless GUI RPC: POST /api/<command> with a JSON array of args; GET /api/events is SSE. */
export const RPC_TOKEN_HEADER = 'x-copilot-token';
export const rpcCommandPath = (name: UiCommandName): string => `/api/${name}`;
export const RPC_EVENTS_PATH = '/api/events';

declare global {
  interface Window {
    copilot: CopilotApi;
  }
}
