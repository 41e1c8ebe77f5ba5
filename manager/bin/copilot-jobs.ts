/**
 * copilot-jobs list | show <id> | cancel <id> | requeue <id>  [--config path] [--VARIABLE=value …]
 * copilot-jobs list | cancel | requeue  --batch <batch id>
 *
 * Reads and changes the job store directly (the same SQLite file or Redis as the managers).
 */
import { ConfigError } from '@copilot/protocol';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import type { JobRecord } from '@manager/job-manager/job-record';
import { batchJobs, cancelJob, changeBatch, requeueJob } from '@manager/job-manager/job-submission';
import {
  loadConfigValues,
  storeConfigFromValues,
  type LoadedConfigValues,
} from '@manager/job-manager/manager-config';
import { openJobQueue } from '@manager/job-manager/open-job-queue';

const USAGE = `usage: copilot-jobs list | show ID | cancel ID | requeue ID  [--config PATH] [--JM_STATE_DIR=DIR ...]
       copilot-jobs list | cancel | requeue  --batch BATCH  [--config PATH] [--JM_STATE_DIR=DIR ...]
`;

function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

function formatJobList(jobs: readonly JobRecord[]): string {
  const rows = [['ID', 'STATE', 'EXIT', 'ATTEMPTS', 'AGENT', 'SUBMITTED', 'BATCH']];
  for (const job of jobs) {
    rows.push([
      job.id,
      job.state,
      job.exitCode === undefined ? '-' : String(job.exitCode),
      String(job.attempts),
      job.agent ?? '-',
      time(job.submittedAt),
      job.batch ?? '-',
    ]);
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return (
    rows
      .map((row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function formatJob(job: JobRecord): string {
  const shown: Array<[string, string | number | undefined]> = [
    ['id', job.id],
    ['state', job.state],
    ['command', job.command],
    ['arguments', job.arguments],
    ['environment', job.environment],
    ['packages', job.packages],
    ['inputFiles', job.inputFiles],
    ['validation', job.validation],
    ['requirements', job.requirements],
    ['batch', job.batch],
    ['attempts', job.attempts],
    ['agent', job.agent],
    ['leaseExpiresAt', job.leaseExpiresAt === undefined ? undefined : time(job.leaseExpiresAt)],
    ['exitCode', job.exitCode],
    ['agentState', job.agentState],
    ['submittedAt', time(job.submittedAt)],
    ['updatedAt', time(job.updatedAt)],
    ['finishedAt', job.finishedAt === undefined ? undefined : time(job.finishedAt)],
    ['note', job.note],
  ];
  return (
    shown
      .filter(([, value]) => value !== undefined && value !== '')
      .map(([name, value]) => `${name}: ${String(value)}`)
      .join('\n') + '\n'
  );
}

/** list, cancel or requeue every job of one batch. */
async function batchAction(loaded: LoadedConfigValues, batch: string): Promise<number> {
  const [action, ...rest] = loaded.positional;
  if ((action !== 'list' && action !== 'cancel' && action !== 'requeue') || rest.length > 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  const queue = await openJobQueue(storeConfigFromValues(loaded.values));
  try {
    if (action === 'list') {
      const jobs = await batchJobs(queue, batch);
      if (jobs.length === 0) {
        process.stderr.write(`copilot-jobs: no batch ${batch}\n`);
        return 1;
      }
      process.stdout.write(formatJobList(jobs));
      return 0;
    }
    const result = await changeBatch(queue, batch, action);
    const done = action === 'cancel' ? 'cancelled' : 'requeued';
    process.stdout.write(
      `batch ${batch}: ${result.changed.length} ${done}, ${result.skipped.length} left as they were\n`,
    );
    return 0;
  } finally {
    await queue.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const loaded = loadConfigValues(argv);
  const batch = loaded.options.get('batch');
  const unknown = [...loaded.options.keys()].find((name) => name !== 'batch');
  if (unknown !== undefined) throw new ConfigError(`unknown option --${unknown}\n${USAGE}`);
  if (batch !== undefined) return batchAction(loaded, batch);
  const [action, id, ...rest] = loaded.positional;
  const needsId = action === 'show' || action === 'cancel' || action === 'requeue';
  if (
    action === undefined ||
    (action !== 'list' && !needsId) ||
    (needsId && id === undefined) ||
    rest.length > 0 ||
    (action === 'list' && id !== undefined)
  ) {
    process.stderr.write(USAGE);
    return 2;
  }
  const queue = await openJobQueue(storeConfigFromValues(loaded.values));
  try {
    if (action === 'list') {
      process.stdout.write(formatJobList(await queue.list()));
      return 0;
    }
    const jobId = id ?? '';
    if (action === 'show') {
      const job = await queue.get(jobId);
      if (!job) {
        process.stderr.write(`copilot-jobs: no job ${jobId}\n`);
        return 1;
      }
      process.stdout.write(formatJob(job));
      return 0;
    }
    const job =
      action === 'cancel' ? await cancelJob(queue, jobId) : await requeueJob(queue, jobId);
    process.stdout.write(`${job.id} ${job.state}\n`);
    return 0;
  } finally {
    await queue.close();
  }
}

runIfEntryPoint(import.meta.url, 'copilot-jobs', main);
