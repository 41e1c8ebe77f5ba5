import { describe, expect, it } from 'vitest';
import { EventAggregator } from '@manager/monitor/event-aggregator';
import { DashboardHistory, jobCounts } from '@manager/monitor/dashboard-state';
import { parseLoad } from '@manager/monitor/agent-load-poller';

const C = 'jobmanager.generic.alpha';

describe('EventAggregator', () => {
  it('counts reportEvent per sample, rolls up durations, sends values at once', () => {
    const aggregator = new EventAggregator();
    expect(
      aggregator.record({ command: 'reportEvent', component: C, event: 'job.succeeded' }, 1_000),
    ).toEqual({ accepted: true, points: [] });
    aggregator.record({ command: 'reportEvent', component: C, event: 'job.succeeded' }, 1_500);
    aggregator.record(
      { command: 'reportEventDuration', component: C, event: 'job.run', duration: 10 },
      2_000,
    );
    aggregator.record(
      { command: 'reportEventDuration', component: C, event: 'job.run', duration: 1000 },
      2_000,
    );
    expect(
      aggregator.record(
        { command: 'reportEventValue', component: C, event: 'queuedJobs', value: 4 },
        2_500,
      ),
    ).toEqual({
      accepted: true,
      points: [{ path: `copilot.${C}.queuedJobs`, value: 4, timestamp: 2 }],
    });
    const { points, updates } = aggregator.sample(5_000);
    const byPath = Object.fromEntries(points.map((point) => [point.path, point.value]));
    expect(byPath).toMatchObject({
      [`copilot.${C}.job.succeeded`]: 2,
      [`copilot.${C}.job.run.avg`]: 505,
      [`copilot.${C}.job.run.min`]: 10,
      [`copilot.${C}.job.run.max`]: 1000,
      [`copilot.${C}.job.run.count`]: 2,
      [`copilot.${C}.job.run.start`]: 1,
      [`copilot.${C}.job.run.end`]: 2,
    });
    expect(byPath[`copilot.${C}.job.run.gmean`]).toBeCloseTo(100, 9);
    expect(points.every((point) => point.timestamp === 5)).toBe(true);
    expect(points.at(-1)).toEqual({
      path: 'copilot.monitor.updates',
      value: updates,
      timestamp: 5,
    });
    expect(updates).toBe(1 + 7 + 1);
  });

  it('a later sample has zero counts and no rollups; totals keep growing', () => {
    const aggregator = new EventAggregator();
    aggregator.record({ command: 'reportEvent', component: C, event: 'job.failed' }, 0);
    aggregator.sample(1_000);
    const { points, updates } = aggregator.sample(2_000);
    expect(points).toEqual([
      { path: `copilot.${C}.job.failed`, value: 0, timestamp: 2 },
      { path: 'copilot.monitor.updates', value: 1, timestamp: 2 },
    ]);
    expect(updates).toBe(1);
    aggregator.record(
      { command: 'reportEvent', component: 'jobmanager.generic.beta', event: 'job.failed' },
      0,
    );
    expect(aggregator.totalOf('job.failed')).toBe(2);
  });

  it('refuses negative durations and keeps the latest value per series', () => {
    const aggregator = new EventAggregator();
    expect(
      aggregator.record(
        { command: 'reportEventDuration', component: C, event: 'x', duration: -5 },
        0,
      ),
    ).toEqual({ accepted: false, reason: 'value' });
    expect(aggregator.seriesCount).toBe(0);
    aggregator.record(
      { command: 'reportEventValue', component: C, event: 'queuedJobs', value: 4 },
      0,
    );
    aggregator.record(
      { command: 'reportEventValue', component: C, event: 'queuedJobs', value: 9 },
      0,
    );
    aggregator.record(
      {
        command: 'reportEventValue',
        component: 'jobmanager.generic.beta',
        event: 'queued.Jobs',
        value: 1,
      },
      0,
    );
    expect(aggregator.latestValueOf(/^queued\.?jobs$/i)).toBe(10);
    expect(aggregator.latestValueOf(/^runningJobs$/)).toBeUndefined();
  });
});

describe('dashboard state', () => {
  it('job counts and per-sample history', () => {
    const aggregator = new EventAggregator();
    const history = new DashboardHistory(2);
    aggregator.record({ command: 'reportEvent', component: C, event: 'job.succeeded' }, 0);
    history.addSample(jobCounts(aggregator), 1_000);
    aggregator.record({ command: 'reportEvent', component: C, event: 'job.succeeded' }, 0);
    aggregator.record(
      { command: 'reportEventValue', component: C, event: 'runningJobs', value: 3 },
      0,
    );
    history.addSample(jobCounts(aggregator), 2_000);
    history.addSample(jobCounts(aggregator), 3_000);
    expect(jobCounts(aggregator)).toEqual({ queued: null, running: 3, succeeded: 2, failed: 0 });
    expect(history.jobHistory().map((point) => [point.t, point.succeededInSample])).toEqual([
      [2_000, 1],
      [3_000, 0],
    ]);
  });

  it('agent loads follow the room', () => {
    const history = new DashboardHistory();
    history.recordPoll(['alpha', 'beta'], new Map([['alpha', [1, 2, 3]]]), 10);
    history.recordPoll(['alpha'], new Map([['alpha', [4, 5, 6]]]), 20);
    expect(history.agentLoads()).toEqual([
      { nick: 'alpha', load: [4, 5, 6], lastAnswerMs: 20, answering: true, history: [1, 4] },
    ]);
  });

  it('parses systemLoad answers', () => {
    expect(parseLoad('0.90 0.65 0.52')).toEqual([0.9, 0.65, 0.52]);
    expect(parseLoad('error: unknown component')).toBeUndefined();
    expect(parseLoad('1 2')).toBeUndefined();
  });
});
