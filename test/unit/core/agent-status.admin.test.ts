// The status line and the Heartbeat `agentState` answer while a project admin's drain or pause
// holds, and how they rank against the volunteer's own pause and the rules.
import { describe, expect, it } from 'vitest';
import {
  adminLine,
  agentActivity,
  agentStateLine,
  statusLine,
  type ActivityInput,
} from '@copilot/core/agent-status';
import type { AdminHold, AgentStatus, RunningJob } from '@copilot/contract/ui-contract';

const job: RunningJob = {
  jobId: '42',
  manager: 'jm@localhost/generic',
  command: 'calculator.sh',
  phase: 'running',
  receivedAt: '2026-11-24T10:00:00Z',
  startedAt: '2026-11-24T10:00:00Z',
  elapsedMs: 3 * 60_000 + 5000,
  wallClockLimitMs: 86_400_000,
  cpuSeconds: 12,
  progress: null,
  etaMs: null,
};

const drain: AdminHold = {
  order: 'drain',
  by: 'admin@localhost',
  reason: 'maintenance',
  since: '2026-11-24T10:00:00Z',
};
const pause: AdminHold = { ...drain, order: 'pause', reason: null };

const base: ActivityInput = {
  stopped: false,
  connection: 'online',
  docker: { available: true, message: 'Docker 20.10' },
  decision: { run: true },
  pausedUntil: null,
  running: [],
};

function line(input: Partial<ActivityInput>): string {
  const full = { ...base, ...input };
  return statusLine(agentActivity(full), full);
}

describe('status line with an admin order', () => {
  it('says drained or paused by the project admin, with the reason', () => {
    expect(adminLine(drain)).toBe('Drained by the project admin (maintenance)');
    expect(adminLine(pause)).toBe('Paused by the project admin');
    expect(line({ admin: drain })).toBe('Drained by the project admin (maintenance)');
    expect(agentActivity({ ...base, admin: drain })).toBe('paused');
    expect(line({ admin: drain, running: [job] })).toBe(
      'Running job 42 for 3 min; draining for the project admin (maintenance)',
    );
    const adminPaused = { run: false, reason: 'paused', detail: 'paused by the project admin' };
    expect(line({ admin: pause, decision: adminPaused as ActivityInput['decision'] })).toBe(
      'Paused by the project admin',
    );
  });

  it('names the volunteer’s own pause first, and a rule before a drain', () => {
    const paused = { run: false, reason: 'paused' } as const;
    expect(line({ admin: pause, decision: paused, volunteerPaused: true })).toBe('Paused');
    expect(line({ admin: drain, decision: paused, volunteerPaused: true })).toBe('Paused');
    const battery = { run: false, reason: 'on-battery', detail: 'on battery' } as const;
    expect(line({ admin: drain, decision: battery })).toBe('Paused: on battery');
  });
});

function status(patch: Partial<AgentStatus>): AgentStatus {
  return {
    activity: 'waiting-for-work',
    statusLine: '',
    connection: 'online',
    connectionMessage: '',
    jid: 'v@localhost/agent',
    jobManager: 'jm@localhost',
    docker: { available: true, message: '' },
    paused: false,
    pausedUntil: null,
    idle: { required: false, idleSeconds: 0, thresholdSeconds: 600, isIdle: true },
    slots: { total: 2, busy: 0 },
    cpuShare: 0.5,
    running: [],
    ...patch,
  };
}

describe('agentState (Heartbeat)', () => {
  it('is the state, the jobs in hand of the slots, and a reason', () => {
    expect(agentStateLine(status({}))).toBe('idle 0/2');
    expect(agentStateLine(status({ activity: 'running', running: [job] }))).toBe('running 1/2');
    expect(agentStateLine(status({ activity: 'running', running: [job], admin: drain }))).toBe(
      'draining 1/2: maintenance',
    );
    expect(agentStateLine(status({ activity: 'paused', admin: drain }))).toBe(
      'drained 0/2: maintenance',
    );
    expect(agentStateLine(status({ activity: 'paused', running: [job], admin: pause }))).toBe(
      'paused by admin 1/2',
    );
    expect(agentStateLine(status({ activity: 'paused', paused: true, admin: pause }))).toBe(
      'paused by volunteer 0/2',
    );
    const rule = { rule: 'on-battery', reason: 'on battery', cpuFactor: 0 } as const;
    expect(agentStateLine(status({ activity: 'paused-by-rule', rule }))).toBe(
      'paused by rule 0/2: on battery',
    );
    expect(agentStateLine(status({ activity: 'docker-unavailable' }))).toBe(
      'unavailable 0/2: no container engine is running',
    );
    expect(agentStateLine(status({ activity: 'stopped' }))).toBe('stopped 0/2');
  });
});
