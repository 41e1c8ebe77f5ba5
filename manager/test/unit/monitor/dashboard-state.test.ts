import { describe, expect, it } from 'vitest';
import { jobCounts } from '@manager/monitor/dashboard-state';
import { EventAggregator } from '@manager/monitor/event-aggregator';

describe('jobCounts', () => {
  it("counts the managers' figures only: agents' job.* events and queue values are theirs", () => {
    const aggregator = new EventAggregator(100);
    const jm = 'jobmanager.generic.alpha';
    aggregator.record(
      { command: 'reportEventValue', component: jm, event: 'queuedJobs', value: 4 },
      0,
    );
    aggregator.record({ command: 'reportEvent', component: jm, event: 'job.succeeded' }, 0);
    aggregator.record({ command: 'reportEvent', component: jm, event: 'job.failed' }, 0);
    // The same job seen by the agent that ran it (AgentMonitor), and a volunteer's made-up values.
    aggregator.record(
      { command: 'reportEvent', component: 'agent.desk-1', event: 'job.succeeded' },
      0,
    );
    for (let n = 0; n < 50; n += 1)
      aggregator.record(
        { command: 'reportEvent', component: 'agent.desk-2', event: 'job.failed' },
        0,
      );
    aggregator.record(
      { command: 'reportEventValue', component: 'agent.desk-2', event: 'queuedJobs', value: -4 },
      0,
    );
    aggregator.record(
      { command: 'reportEventValue', component: 'agent.desk-2', event: 'runningJobs', value: 9 },
      0,
    );
    expect(jobCounts(aggregator)).toEqual({ queued: 4, running: null, succeeded: 1, failed: 1 });
  });
});
