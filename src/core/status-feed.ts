/**
 * The agent's status as the UI sees it, built from its parts, and the 'status' events: one when
 * something the UI shows changed, and every 5 s while jobs run (their elapsed time moves).
 */
import type {
  AdminHold,
  AgentSettings,
  AgentStatus,
  ConnectionState,
  DockerState,
  RunningJob,
} from '../contract/ui-contract';
import { agentActivity, ruleState, statusLine, type ActivityInput } from './agent-status';
import { cpuShare, isIdle, type ResourcePolicy } from './resource-policy';

const PERIODIC_MS = 5_000;

export interface StatusSources {
  stopped: () => boolean;
  settings: () => AgentSettings;
  policy: ResourcePolicy;
  connection: () => { state: ConnectionState; message: string; jid: string | null };
  docker: () => DockerState;
  running: (now: number) => RunningJob[];
  /** Finish then pause is under way. */
  finishing?: () => boolean;
  /** Jobs the volunteer suspended. */
  suspended?: () => string[];
  /** A project admin's drain or pause (AdminOrders). */
  admin?: () => AdminHold | null;
}

export function buildStatus(sources: StatusSources, now: number): AgentStatus {
  const settings = sources.settings();
  const running = sources.running(now);
  const policyState = sources.policy.state(now);
  const { pausedUntil } = policyState;
  const connection = sources.connection();
  const docker = sources.docker();
  // The policy's decision: the volunteer's settings, then the holds (a project admin's pause).
  const decision = sources.policy.decide(now);
  const admin = sources.admin?.() ?? null;
  const rule = ruleState(decision);
  const finishing = sources.finishing?.() ?? false;
  const input: ActivityInput = {
    stopped: sources.stopped(),
    connection: connection.state,
    docker,
    decision,
    pausedUntil,
    running,
    rule,
    finishing,
    admin,
    volunteerPaused: settings.paused || pausedUntil !== null,
  };
  const activity = agentActivity(input);
  return {
    activity,
    statusLine: statusLine(activity, input),
    connection: connection.state,
    connectionMessage: connection.message,
    jid: connection.jid,
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
    slots: { total: settings.jobSlots, busy: running.length },
    cpuShare: cpuShare(settings),
    running,
    rule,
    finishing,
    suspendedJobs: sources.suspended?.() ?? [],
    admin,
  };
}

/** What of a status is news to the UI; a new idle reading is news only when its display changes. */
function displayKey(status: AgentStatus): string {
  const { idle } = status;
  return JSON.stringify({
    ...status,
    idle: idle.required
      ? { ...idle, idleSeconds: Math.floor(idle.idleSeconds / 60) }
      : { required: false, thresholdSeconds: idle.thresholdSeconds },
    // An image pull's bytes are news (job-lifecycle tells them at most every 500 ms).
    running: status.running.map((job) => [
      job.jobId,
      job.phase,
      job.pull?.currentBytes,
      job.pull?.totalBytes,
    ]),
  });
}

export class StatusFeed {
  private lastKey = '';
  private lastAt = 0;

  constructor(
    private readonly read: () => AgentStatus,
    private readonly emit: (status: AgentStatus) => void,
  ) {}

  /** Emits the status if it is news (or `force`). */
  update(force = false): void {
    const current = this.read();
    const key = displayKey(current);
    const now = Date.now();
    const periodic = current.running.length > 0 && now - this.lastAt >= PERIODIC_MS;
    if (!force && key === this.lastKey && !periodic) return;
    this.lastKey = key;
    this.lastAt = now;
    this.emit(current);
  }
}
