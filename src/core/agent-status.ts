/** The status line and activity shown in the tray and the status view, from the agent's state. */
import type {
  AdminHold,
  AgentActivity,
  AgentStatus,
  ConnectionState,
  DockerState,
  RuleState,
  RunningJob,
} from '../contract/ui-contract';
import type { RunDecision } from './resource-policy';

export interface ActivityInput {
  stopped: boolean;
  connection: ConnectionState;
  docker: DockerState;
  decision: RunDecision;
  pausedUntil: number | null;
  running: readonly RunningJob[];
  /** The rule pausing or slowing jobs (ruleState), or null. */
  rule?: RuleState | null;
  /** Finish then pause: no new work while the running jobs end. */
  finishing?: boolean;
  /** A project admin's drain or pause, or null. */
  admin?: AdminHold | null;
  /** The volunteer's own pause (Pause, or a timed pause) holds. */
  volunteerPaused?: boolean;
}

const RULE_PAUSE_TEXT = {
  'outside-schedule': 'outside the computing hours',
  'on-battery': 'on battery',
  'battery-low': 'battery low',
  'computer-busy': 'the computer is busy',
} as const;

/** The rule pausing or slowing jobs, from a decision (null: none, or a pause of the volunteer). */
export function ruleState(decision: RunDecision): RuleState | null {
  if (decision.run) {
    if (decision.cpuFactor === undefined || decision.cpuFactor >= 1) return null;
    return {
      rule: 'thermal',
      reason: decision.slowedBy ?? 'CPU hot',
      cpuFactor: decision.cpuFactor,
    };
  }
  if (decision.reason === 'paused' || decision.reason === 'waiting-for-idle') return null;
  return {
    rule: decision.reason,
    reason: decision.detail ?? RULE_PAUSE_TEXT[decision.reason],
    cpuFactor: 0,
  };
}

export function agentActivity(input: ActivityInput): AgentActivity {
  if (input.stopped) return 'stopped';
  // Nothing else matters until the volunteer fixes the account; say so before idle or pause.
  if (input.connection === 'not-configured' || input.connection === 'auth-failed') {
    return 'not-connected';
  }
  if (!input.decision.run) {
    const { reason } = input.decision;
    return reason === 'paused' || reason === 'waiting-for-idle' ? reason : 'paused-by-rule';
  }
  if (input.running.length > 0) return 'running';
  // Drained: no jobs in hand, and no more asked for until an admin resumes.
  if (input.admin?.order === 'drain') return 'paused';
  if (!input.docker.available) return 'docker-unavailable';
  if (input.connection !== 'online') return 'not-connected';
  return 'waiting-for-work';
}

/**
 * No container engine answers: the agent cannot tell which one the volunteer meant (an engine
 * that stopped is looked for again everywhere), so the line names none of them.
 */
export const NO_ENGINE_LINE = 'No container engine is running';

function minutes(ms: number): string {
  const total = Math.floor(ms / 60_000);
  if (total < 1) return 'less than a minute';
  if (total < 60) return `${total} min`;
  const hours = Math.floor(total / 60);
  return `${hours} h ${total % 60} min`;
}

function clock(ms: number): string {
  const date = new Date(ms);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** Jobs while the policy lets them run: a frozen one ('paused') was suspended by hand. */
function runningLine(running: readonly RunningJob[]): string {
  const [first] = running;
  if (running.length > 1 || !first) {
    const suspended = running.filter((job) => job.phase === 'paused').length;
    return suspended > 0
      ? `Running ${running.length} jobs (${suspended} suspended)`
      : `Running ${running.length} jobs`;
  }
  if (first.phase === 'paused') return `Job ${first.jobId} suspended`;
  if (first.phase === 'running') {
    return `Running job ${first.jobId} for ${minutes(first.elapsedMs)}`;
  }
  return `Job ${first.jobId}: ${first.phase}`;
}

/** "Drained by the project admin (reason)", "Paused by the project admin". */
export function adminLine(admin: AdminHold): string {
  const what = admin.order === 'drain' ? 'Drained' : 'Paused';
  return `${what} by the project admin${admin.reason === null ? '' : ` (${admin.reason})`}`;
}

function pausedLine(input: ActivityInput): string {
  // The volunteer's own pause is what the volunteer sees first; the admin's otherwise.
  if (input.admin && input.volunteerPaused !== true) return adminLine(input.admin);
  return input.pausedUntil !== null ? `Paused until ${clock(input.pausedUntil)}` : 'Paused';
}

export function statusLine(activity: AgentActivity, input: ActivityInput): string {
  switch (activity) {
    case 'stopped':
      return 'Stopped';
    case 'paused':
      return pausedLine(input);
    case 'paused-by-rule': {
      const rule = input.rule ?? ruleState(input.decision);
      return rule ? `Paused: ${rule.reason}` : 'Paused';
    }
    case 'waiting-for-idle':
      return 'Waiting for the computer to be idle';
    case 'running': {
      const rule = input.rule ?? ruleState(input.decision);
      const slowed = rule?.rule === 'thermal' ? ` (slowed: ${rule.reason})` : '';
      const finishing = input.finishing ? ', then pausing' : '';
      const draining =
        input.admin?.order === 'drain'
          ? `; draining for the project admin${input.admin.reason === null ? '' : ` (${input.admin.reason})`}`
          : '';
      return runningLine(input.running) + slowed + finishing + draining;
    }
    case 'docker-unavailable':
      return NO_ENGINE_LINE;
    case 'not-connected':
      if (input.connection === 'not-configured') return 'Not configured: open Settings';
      if (input.connection === 'auth-failed') return 'Not connected: login refused';
      return 'Not connected';
    case 'waiting-for-work':
      return input.finishing ? 'Pausing' : 'Waiting for work';
  }
}

/**
 * The agent's state as one line, for `Heartbeat:getStatus component=agentState` (a fleet
 * console): `<state> <jobs in hand>/<slots>[: <reason>]`, the state one of `idle`, `running`,
 * `draining`, `drained`, `paused by volunteer`, `paused by admin`, `paused by rule`,
 * `unavailable`, `not connected`, `stopped`. The volunteer's pause is named before an admin's.
 */
export function agentStateLine(status: AgentStatus): string {
  const jobs = `${status.running.length}/${status.slots.total}`;
  const admin = status.admin ?? null;
  const because = (reason: string | null | undefined): string =>
    reason === null || reason === undefined || reason === '' ? '' : `: ${reason}`;
  const line = (state: string, reason?: string | null): string =>
    `${state} ${jobs}${because(reason)}`;
  switch (status.activity) {
    case 'stopped':
      return line('stopped');
    case 'paused':
      if (status.paused) return line('paused by volunteer');
      if (admin) return line(admin.order === 'pause' ? 'paused by admin' : 'drained', admin.reason);
      return line('paused by volunteer');
    case 'paused-by-rule':
      return line('paused by rule', status.rule?.reason);
    case 'waiting-for-idle':
      return line('paused by rule', 'waiting for the computer to be idle');
    case 'docker-unavailable':
      return line('unavailable', 'no container engine is running');
    case 'not-connected':
      return line('not connected');
    case 'running':
      return admin?.order === 'drain' ? line('draining', admin.reason) : line('running');
    case 'waiting-for-work':
      return line('idle');
  }
}
