import { describe, expect, it } from 'vitest';
import type { AgentNotification, JobHistoryRecord } from '@copilot/contract/ui-contract';
import { ABORTED_BY_VOLUNTEER, AgentNotifier } from '@copilot/core/agent-notifier';

function record(overrides: Partial<JobHistoryRecord>): JobHistoryRecord {
  return {
    jobId: 'j-1',
    manager: 'jm@localhost',
    command: 'run.sh',
    state: 'done',
    exitCode: 0,
    receivedAt: '',
    startedAt: null,
    finishedAt: null,
    cpuSeconds: 0,
    wallSeconds: 0,
    ...overrides,
  };
}

describe('AgentNotifier', () => {
  it("tells failed and refused jobs, not successes nor the volunteer's own aborts", () => {
    const told: AgentNotification[] = [];
    const notifier = new AgentNotifier((n) => told.push(n));
    notifier.jobEnded(record({}));
    notifier.jobEnded(record({ state: 'aborted', error: ABORTED_BY_VOLUNTEER }));
    notifier.jobEnded(record({ state: 'failed', exitCode: 3, error: 'exit code 3' }));
    notifier.jobEnded(
      record({
        jobId: 'j-2',
        state: 'aborted',
        error: 'the manager refused the job (cancelled): x',
      }),
    );
    expect(told.map(({ kind, title, jobId }) => ({ kind, title, jobId }))).toEqual([
      { kind: 'job-failed', title: 'Job j-1 failed', jobId: 'j-1' },
      { kind: 'job-refused', title: 'Job j-2 was refused', jobId: 'j-2' },
    ]);
  });

  it('tells a connection lost for over a minute once, again after it came back and went', () => {
    const told: AgentNotification[] = [];
    const notifier = new AgentNotifier((n) => told.push(n));
    const offline = { wantsConnection: true, online: false, dockerAvailable: true };
    notifier.observe(offline, 0);
    notifier.observe(offline, 59_999);
    expect(told).toEqual([]);
    notifier.observe(offline, 60_000);
    notifier.observe(offline, 120_000);
    expect(told.map((n) => n.kind)).toEqual(['connection-lost']);
    notifier.observe({ ...offline, online: true }, 130_000);
    notifier.observe(offline, 140_000);
    notifier.observe(offline, 200_000);
    expect(told.map((n) => n.kind)).toEqual(['connection-lost', 'connection-lost']);
    // Not configured: nothing to lose.
    const quiet = new AgentNotifier((n) => told.push(n));
    quiet.observe({ wantsConnection: false, online: false, dockerAvailable: true }, 0);
    quiet.observe({ wantsConnection: false, online: false, dockerAvailable: true }, 600_000);
    expect(told).toHaveLength(2);
  });

  it('tells Docker going away once per outage, not when it was never there', () => {
    const told: AgentNotification[] = [];
    const notifier = new AgentNotifier((n) => told.push(n));
    const state = { wantsConnection: false, online: false, dockerAvailable: false };
    notifier.observe(state, 0);
    notifier.observe({ ...state, dockerAvailable: true }, 1);
    notifier.observe(state, 2);
    notifier.observe(state, 3);
    expect(told.map((n) => n.kind)).toEqual(['docker-gone']);
    // The engine's name was not known: it is called the container engine.
    expect(told[0]).toMatchObject({
      title: 'The container engine went away',
      body: 'Jobs cannot run until it is back.',
    });
  });

  it('names the engine that went away, Podman or Docker, as it last answered', () => {
    const told: AgentNotification[] = [];
    const notifier = new AgentNotifier((n) => told.push(n));
    const state = { wantsConnection: false, online: false, dockerAvailable: false };
    notifier.observe({ ...state, dockerAvailable: true, engine: 'podman' }, 0);
    notifier.observe(state, 1);
    notifier.observe({ ...state, dockerAvailable: true, engine: 'docker' }, 2);
    notifier.observe(state, 3);
    expect(told.map(({ kind, title, body }) => ({ kind, title, body }))).toEqual([
      {
        kind: 'docker-gone',
        title: 'Podman went away',
        body: 'Jobs cannot run until Podman is back.',
      },
      {
        kind: 'docker-gone',
        title: 'Docker went away',
        body: 'Jobs cannot run until Docker is back.',
      },
    ]);
  });
});
