/** The status line and activity shown in the tray and the status view, from the agent's state. */
import type {
  AgentActivity,
  ConnectionState,
  DockerState,
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
}

export function agentActivity(input: ActivityInput): AgentActivity {
  if (input.stopped) return 'stopped';
  // Nothing else matters until the volunteer fixes the account; say so before idle or pause.
  if (input.connection === 'not-configured' || input.connection === 'auth-failed') {
    return 'not-connected';
  }
  if (!input.decision.run) return input.decision.reason;
  if (input.running.length > 0) return 'running';
  if (!input.docker.available) return 'docker-unavailable';
  if (input.connection !== 'online') return 'not-connected';
  return 'waiting-for-work';
}

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

export function statusLine(activity: AgentActivity, input: ActivityInput): string {
  switch (activity) {
    case 'stopped':
      return 'Stopped';
    case 'paused':
      return input.pausedUntil !== null ? `Paused until ${clock(input.pausedUntil)}` : 'Paused';
    case 'waiting-for-idle':
      return 'Waiting for the computer to be idle';
    case 'running': {
      const [first] = input.running;
      if (input.running.length > 1 || !first) return `Running ${input.running.length} jobs`;
      if (first.phase === 'running' || first.phase === 'paused') {
        return `Running job ${first.jobId} for ${minutes(first.elapsedMs)}`;
      }
      return `Job ${first.jobId}: ${first.phase}`;
    }
    case 'docker-unavailable':
      return 'Docker is not running';
    case 'not-connected':
      if (input.connection === 'not-configured') return 'Not configured: open Settings';
      if (input.connection === 'auth-failed') return 'Not connected: login refused';
      return 'Not connected';
    case 'waiting-for-work':
      return 'Waiting for work';
  }
}
