import { describe, expect, it } from 'vitest';
import {
  agentActivity,
  ruleState,
  statusLine,
  type ActivityInput,
} from '@copilot/core/agent-status';
import type { RunningJob } from '@copilot/contract/ui-contract';

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

describe('status line', () => {
  it('names what the agent is doing, most important first', () => {
    expect(line({ running: [job] })).toBe('Running job 42 for 3 min');
    expect(line({ running: [{ ...job, elapsedMs: 125 * 60_000 }] })).toBe(
      'Running job 42 for 2 h 5 min',
    );
    expect(line({ running: [{ ...job, phase: 'uploading' }] })).toBe('Job 42: uploading');
    expect(line({ running: [job, { ...job, jobId: '43' }] })).toBe('Running 2 jobs');
    // While the policy lets jobs run, a frozen one was suspended by hand.
    expect(line({ running: [{ ...job, phase: 'paused' }] })).toBe('Job 42 suspended');
    expect(line({ running: [job, { ...job, jobId: '43', phase: 'paused' }] })).toBe(
      'Running 2 jobs (1 suspended)',
    );
    expect(line({ decision: { run: false, reason: 'paused' }, running: [job] })).toBe('Paused');
    expect(line({ decision: { run: false, reason: 'waiting-for-idle' } })).toBe(
      'Waiting for the computer to be idle',
    );
    expect(line({ docker: { available: false, message: 'x' } })).toBe(
      'No container engine is running',
    );
    expect(line({ connection: 'offline' })).toBe('Not connected');
    expect(line({ connection: 'not-configured' })).toBe('Not configured: open Settings');
    // An unconfigured or refused account outranks waiting for idle.
    expect(
      line({ connection: 'not-configured', decision: { run: false, reason: 'waiting-for-idle' } }),
    ).toBe('Not configured: open Settings');
    expect(line({ connection: 'auth-failed', decision: { run: false, reason: 'paused' } })).toBe(
      'Not connected: login refused',
    );
    expect(line({ connection: 'auth-failed' })).toBe('Not connected: login refused');
    expect(line({})).toBe('Waiting for work');
    expect(line({ stopped: true, running: [job] })).toBe('Stopped');
  });

  it('a timed pause shows its end in local time', () => {
    const end = new Date(2026, 10, 24, 14, 5).getTime();
    expect(line({ decision: { run: false, reason: 'paused' }, pausedUntil: end })).toBe(
      'Paused until 14:05',
    );
  });
});

describe('rules in the status', () => {
  it('a rule that pauses is the activity and the reason in the status line', () => {
    const decision = { run: false, reason: 'on-battery', detail: 'on battery' } as const;
    expect(agentActivity({ ...base, decision })).toBe('paused-by-rule');
    expect(line({ decision })).toBe('Paused: on battery');
    expect(ruleState(decision)).toEqual({ rule: 'on-battery', reason: 'on battery', cpuFactor: 0 });
    expect(line({ decision: { run: false, reason: 'outside-schedule' } })).toBe(
      'Paused: outside the computing hours',
    );
    expect(ruleState({ run: false, reason: 'paused' })).toBeNull();
  });

  it('the thermal rule slows running jobs and says so; finishing says what comes next', () => {
    const decision = { run: true, cpuFactor: 0.7, slowedBy: 'CPU at 90 °C, 70 % speed' } as const;
    expect(agentActivity({ ...base, decision, running: [job] })).toBe('running');
    expect(line({ decision, running: [job] })).toBe(
      'Running job 42 for 3 min (slowed: CPU at 90 °C, 70 % speed)',
    );
    expect(ruleState(decision)).toEqual({
      rule: 'thermal',
      reason: 'CPU at 90 °C, 70 % speed',
      cpuFactor: 0.7,
    });
    expect(line({ running: [job], finishing: true })).toBe(
      'Running job 42 for 3 min, then pausing',
    );
    expect(ruleState({ run: true })).toBeNull();
  });
});
