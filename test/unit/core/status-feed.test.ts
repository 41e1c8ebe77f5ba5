import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentSettings, AgentStatus, RunningJob } from '@copilot/contract/ui-contract';
import { ResourcePolicy } from '@copilot/core/resource-policy';
import { buildStatus, StatusFeed, type StatusSources } from '@copilot/core/status-feed';

const T0 = Date.UTC(2026, 0, 1, 12);

const JOB: RunningJob = {
  jobId: 'job-1',
  manager: 'jm@localhost/generic',
  command: 'calculator.sh',
  phase: 'running',
  receivedAt: new Date(T0).toISOString(),
  startedAt: new Date(T0).toISOString(),
  elapsedMs: 0,
  wallClockLimitMs: 60_000,
  cpuSeconds: 0,
  progress: null,
  etaMs: null,
};

function status(overrides: Partial<AgentStatus> = {}): AgentStatus {
  return {
    activity: 'waiting-for-work',
    statusLine: 'Waiting for work',
    connection: 'online',
    connectionMessage: 'Connected as agent@localhost/a',
    jid: 'agent@localhost/a',
    jobManager: 'jm@localhost',
    docker: { available: true, message: 'Docker 24.0' },
    paused: false,
    pausedUntil: null,
    idle: { required: false, idleSeconds: 0, thresholdSeconds: 180, isIdle: true },
    slots: { total: 1, busy: 0 },
    cpuShare: 0.5,
    running: [],
    ...overrides,
  };
}

/** A feed over a status the test changes, and what it emitted. */
function feed(initial: AgentStatus): {
  feed: StatusFeed;
  emitted: AgentStatus[];
  set: (next: AgentStatus) => void;
} {
  let current = initial;
  const emitted: AgentStatus[] = [];
  return {
    feed: new StatusFeed(
      () => current,
      (next) => emitted.push(next),
    ),
    emitted,
    set: (next) => {
      current = next;
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('StatusFeed', () => {
  it('emits the first status, then only when something shown changes', () => {
    const rig = feed(status());
    rig.feed.update();
    expect(rig.emitted).toHaveLength(1);
    rig.feed.update();
    rig.set(status());
    rig.feed.update();
    expect(rig.emitted).toHaveLength(1);
    const offline = status({ connection: 'offline', connectionMessage: 'Connection lost' });
    rig.set(offline);
    rig.feed.update();
    expect(rig.emitted).toHaveLength(2);
    expect(rig.emitted[1]).toBe(offline);
  });

  it('emits an identical status when forced', () => {
    const rig = feed(status());
    rig.feed.update();
    rig.feed.update(true);
    rig.feed.update(true);
    expect(rig.emitted).toHaveLength(3);
  });

  it('emits every 5 s while a job runs, even when nothing else changed', () => {
    const running = (elapsedMs: number): AgentStatus =>
      status({ activity: 'running', running: [{ ...JOB, elapsedMs }] });
    const rig = feed(running(0));
    rig.feed.update();
    expect(rig.emitted).toHaveLength(1);
    // The elapsed time moves every tick, but that alone is not news before 5 s.
    for (const at of [1000, 2000, 4999]) {
      vi.setSystemTime(T0 + at);
      rig.set(running(at));
      rig.feed.update();
    }
    expect(rig.emitted).toHaveLength(1);
    vi.setSystemTime(T0 + 5000);
    rig.set(running(5000));
    rig.feed.update();
    expect(rig.emitted).toHaveLength(2);
    expect(rig.emitted[1]?.running[0]?.elapsedMs).toBe(5000);
    // The period starts again from the last emission.
    vi.setSystemTime(T0 + 9999);
    rig.feed.update();
    expect(rig.emitted).toHaveLength(2);
    vi.setSystemTime(T0 + 10_000);
    rig.feed.update();
    expect(rig.emitted).toHaveLength(3);
  });

  it('stays quiet without running jobs however much time passes', () => {
    const rig = feed(status());
    rig.feed.update();
    vi.setSystemTime(T0 + 60_000);
    rig.feed.update();
    expect(rig.emitted).toHaveLength(1);
  });

  it('counts a forced emission as the last one for the period', () => {
    const rig = feed(status({ activity: 'running', running: [JOB] }));
    rig.feed.update();
    vi.setSystemTime(T0 + 3000);
    rig.feed.update(true);
    vi.setSystemTime(T0 + 7000);
    rig.feed.update();
    expect(rig.emitted).toHaveLength(2);
    vi.setSystemTime(T0 + 8000);
    rig.feed.update();
    expect(rig.emitted).toHaveLength(3);
  });

  it('treats a job changing phase as news at once', () => {
    const rig = feed(status({ activity: 'running', running: [{ ...JOB, phase: 'downloading' }] }));
    rig.feed.update();
    vi.setSystemTime(T0 + 100);
    rig.set(status({ activity: 'running', running: [{ ...JOB, phase: 'running' }] }));
    rig.feed.update();
    expect(rig.emitted).toHaveLength(2);
  });

  it("treats an image pull's new bytes as news, its clocks not", () => {
    const pulling = (currentBytes: number, elapsedMs = 0): AgentStatus =>
      status({
        activity: 'running',
        running: [
          {
            ...JOB,
            phase: 'pulling',
            elapsedMs,
            pull: { image: 'r/x@sha256:1', currentBytes, totalBytes: 2000 },
          },
        ],
      });
    const rig = feed(pulling(0));
    rig.feed.update();
    vi.setSystemTime(T0 + 100);
    rig.set(pulling(0, 100));
    rig.feed.update();
    expect(rig.emitted).toHaveLength(1);
    rig.set(pulling(2000, 200));
    rig.feed.update();
    expect(rig.emitted.map((s) => s.running[0]?.pull?.currentBytes)).toEqual([0, 2000]);
  });

  it('ignores a new idle reading unless the displayed minutes change', () => {
    const idle = (idleSeconds: number): AgentStatus =>
      status({
        idle: { required: true, idleSeconds, thresholdSeconds: 180, isIdle: idleSeconds >= 180 },
      });
    const rig = feed(idle(61));
    rig.feed.update();
    rig.set(idle(62));
    rig.feed.update();
    rig.set(idle(119));
    rig.feed.update();
    expect(rig.emitted).toHaveLength(1);
    rig.set(idle(120));
    rig.feed.update();
    expect(rig.emitted).toHaveLength(2);
    expect(rig.emitted[1]?.idle.idleSeconds).toBe(120);
  });

  it('ignores idle readings altogether when jobs need not wait for idle', () => {
    const idle = (idleSeconds: number): AgentStatus =>
      status({ idle: { required: false, idleSeconds, thresholdSeconds: 180, isIdle: true } });
    const rig = feed(idle(10));
    rig.feed.update();
    rig.set(idle(600));
    rig.feed.update();
    expect(rig.emitted).toHaveLength(1);
  });
});

describe('buildStatus', () => {
  function sources(settings: AgentSettings, policy = new ResourcePolicy(settings)): StatusSources {
    return {
      stopped: () => false,
      settings: () => settings,
      policy,
      connection: () => ({ state: 'online', message: 'Connected', jid: 'agent@localhost/a' }),
      docker: () => ({ available: true, message: 'Docker 24.0' }),
      running: () => [JOB],
    };
  }

  it('reports the parts: connection, slots, running jobs and the CPU share', () => {
    const settings = {
      ...DEFAULT_SETTINGS,
      jobManagerAddress: 'jm@localhost',
      runOnlyWhenIdle: false,
      cpuLimitPercent: 25,
      jobSlots: 2,
    };
    const built = buildStatus(sources(settings), T0);
    expect(built).toMatchObject({
      activity: 'running',
      connection: 'online',
      jid: 'agent@localhost/a',
      jobManager: 'jm@localhost',
      paused: false,
      pausedUntil: null,
      slots: { total: 2, busy: 1 },
      cpuShare: 0.25,
      running: [JOB],
    });
  });

  it('shows a timed pause as paused, with its end', () => {
    const settings = { ...DEFAULT_SETTINGS, runOnlyWhenIdle: false };
    const policy = new ResourcePolicy(settings);
    policy.pauseFor(30, T0);
    const built = buildStatus(sources(settings, policy), T0);
    expect(built.activity).toBe('paused');
    expect(built.paused).toBe(true);
    expect(built.pausedUntil).toBe(new Date(T0 + 30 * 60_000).toISOString());
  });

  it('reports the idle wait with the threshold in seconds', () => {
    const settings = { ...DEFAULT_SETTINGS, runOnlyWhenIdle: true, idleMinutes: 5 };
    const policy = new ResourcePolicy(settings);
    policy.reportIdleSeconds(42);
    const built = buildStatus({ ...sources(settings, policy), running: () => [] }, T0);
    expect(built.activity).toBe('waiting-for-idle');
    expect(built.idle).toEqual({
      required: true,
      idleSeconds: 42,
      thresholdSeconds: 300,
      isIdle: false,
    });
  });
});
