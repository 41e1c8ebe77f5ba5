/**
 * Batch progress for the Monitor's dashboard (issue #17): the manager counts the jobs of each
 * batch (copilot-job-submit --number/--array) by state and reports them as reportEventValue
 * `batch.<id>.<state>` under its component, so they reach the dashboard and Graphite as
 * `copilot.jobmanager.generic.<resource>.batch.<id>.<state>`. The Monitor does not open the job
 * store: it may run on another host, and the reports pass its sender allow-list like any other.
 *
 * Reported each round: the newest `maxBatches` batches that still have jobs queued or handed
 * out, and a batch once more when its last job ends; a batch's values are sent when they
 * changed, and all of them every `refreshRounds` rounds (for a Monitor that restarted).
 */
import type { CopilotSession } from '@copilot/transport';
import { MonitorReporter, monitorComponent, noackChannel } from '@copilot/transport';
import { errorMessage } from '@copilot/base/errors';
import type { Logger } from '@copilot/base/logger';
import type { JobQueue } from './job-queue';
import type { JobManagerConfig } from './manager-config';
import { FINAL_STATES, JOB_STATES, type JobRecord, type JobState } from './job-record';

export type BatchEvent = `batch.${string}`;
export type BatchCounts = Record<JobState, number>;

export interface BatchFigures {
  batch: string;
  /** Earliest submission time in the batch, for the order. */
  submittedAt: number;
  counts: BatchCounts;
}

function emptyCounts(): BatchCounts {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as BatchCounts;
}

/** The batch id as one Graphite path component (batch ids may hold dots). */
export function batchPathName(batch: string): string {
  return batch.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Counts the jobs of each batch by state, newest batch first. */
export function countBatches(jobs: readonly JobRecord[]): BatchFigures[] {
  const batches = new Map<string, BatchFigures>();
  for (const job of jobs) {
    if (job.batch === undefined) continue;
    const figures = batches.get(job.batch) ?? {
      batch: job.batch,
      submittedAt: job.submittedAt,
      counts: emptyCounts(),
    };
    figures.counts[job.state] += 1;
    figures.submittedAt = Math.min(figures.submittedAt, job.submittedAt);
    batches.set(job.batch, figures);
  }
  return [...batches.values()].sort((a, b) => b.submittedAt - a.submittedAt);
}

function isOpen(counts: BatchCounts): boolean {
  return JOB_STATES.some((state) => !FINAL_STATES.includes(state) && counts[state] > 0);
}

export interface BatchReporterOptions {
  queue: Pick<JobQueue, 'list'>;
  monitor: Pick<MonitorReporter<BatchEvent>, 'enabled' | 'value'>;
  /** Most batches reported in one round (default 20). */
  maxBatches?: number;
  /** Every this many rounds, unchanged values are sent again (default 10). */
  refreshRounds?: number;
}

export class BatchReporter {
  /** What was last sent per batch, as `counts` joined; only batches reported last round. */
  private sent = new Map<string, string>();
  private round = 0;

  constructor(private readonly options: BatchReporterOptions) {}

  /** One round; resolves with the number of batches whose values were sent. */
  async report(): Promise<number> {
    if (!this.options.monitor.enabled) return 0;
    const refresh = this.round % (this.options.refreshRounds ?? 10) === 0;
    this.round += 1;
    const batches = countBatches(await this.options.queue.list());
    const chosen = batches
      .filter((figures) => isOpen(figures.counts) || this.sent.has(figures.batch))
      .slice(0, this.options.maxBatches ?? 20);
    const next = new Map<string, string>();
    let reported = 0;
    for (const figures of chosen) {
      const key = JOB_STATES.map((state) => figures.counts[state]).join(',');
      // A finished batch is sent once more and then left out.
      if (isOpen(figures.counts)) next.set(figures.batch, key);
      if (!refresh && this.sent.get(figures.batch) === key) continue;
      const name = batchPathName(figures.batch);
      for (const state of JOB_STATES)
        this.options.monitor.value(`batch.${name}.${state}`, figures.counts[state]);
      reported += 1;
    }
    this.sent = next;
    return reported;
  }
}

/** Reports batch progress every interval (default 60 s); returns the cleanup step that stops it. */
export function startBatchReports(
  queue: JobQueue,
  session: CopilotSession,
  config: Pick<JobManagerConfig, 'monitorAddress' | 'xmpp'>,
  parentLogger: Logger,
  intervalMs = 60_000,
): () => Promise<void> {
  const logger = parentLogger.child('batches');
  const monitor = new MonitorReporter<BatchEvent>(
    noackChannel(session, logger),
    config.monitorAddress,
    monitorComponent('jobManager', config.xmpp.resource),
  );
  if (!monitor.enabled) return () => Promise.resolve();
  const reporter = new BatchReporter({ queue, monitor });
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    reporter
      .report()
      .catch((error: unknown) => {
        logger.debug('batch progress not reported', { error: errorMessage(error) });
      })
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  return () => {
    clearInterval(timer);
    return Promise.resolve();
  };
}
