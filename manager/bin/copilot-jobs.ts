/**
 * copilot-jobs list | show <id> | cancel <id> | requeue <id>  [--config path] [--VARIABLE=value …]
 * copilot-jobs list | cancel | requeue  --batch <batch id>
 * copilot-jobs list --owner <owner>      (the jobs of one owner; `--owner ""`: jobs without one)
 * copilot-jobs owners                    (per owner: queued, active, usage, share and caps)
 *
 * Reads and changes the job store directly (the same SQLite file or Redis as the managers).
 */
import { ConfigError } from '@copilot/protocol';
import { runIfEntryPoint } from '@copilot/base/cli-runner';
import type { JobRecord } from '@manager/job-manager/job-record';
import { effectiveUsage, type OwnerStats } from '@manager/job-manager/fair-share';
import { valueFor, type OwnerPolicy } from '@manager/job-manager/owner-policy';
import { batchJobs, cancelJob, changeBatch, requeueJob } from '@manager/job-manager/job-submission';
import {
  loadConfigValues,
  storeConfigFromValues,
  type LoadedConfigValues,
} from '@manager/job-manager/manager-config';
import { openJobQueue } from '@manager/job-manager/open-job-queue';

const USAGE = `usage: copilot-jobs list | show ID | cancel ID | requeue ID  [--config PATH] [--JM_STATE_DIR=DIR ...]
       copilot-jobs list | cancel | requeue  --batch BATCH  [--config PATH] [--JM_STATE_DIR=DIR ...]
       copilot-jobs list --owner OWNER | owners  [--config PATH] [--JM_STATE_DIR=DIR ...]
`;

function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

function formatJobList(jobs: readonly JobRecord[]): string {
  const rows = [
    ['ID', 'STATE', 'OWNER', 'PRIO', 'EXIT', 'ATTEMPTS', 'AGENT', 'SUBMITTED', 'BATCH'],
  ];
  for (const job of jobs) {
    rows.push([
      job.id,
      job.state,
      job.owner ?? '-',
      String(job.priority ?? 0),
      job.exitCode === undefined ? '-' : String(job.exitCode),
      String(job.attempts),
      job.agent ?? '-',
      time(job.submittedAt),
      job.batch ?? '-',
    ]);
  }
  return formatTable(rows);
}

function formatTable(rows: readonly string[][]): string {
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
    ['owner', job.owner],
    ['priority', job.priority],
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

/** Per owner: its jobs, usage as fair share ranks it, its share and caps (0 = no cap). */
function formatOwners(owners: readonly OwnerStats[], policy: OwnerPolicy): string {
  const now = Date.now();
  const rows = [['OWNER', 'QUEUED', 'ACTIVE', 'USAGE/SHARE', 'SHARE', 'MAX_QUEUED', 'MAX_RUNNING']];
  for (const stats of owners) {
    rows.push([
      stats.owner === '' ? '(none)' : stats.owner,
      String(stats.queued),
      String(stats.active),
      effectiveUsage(stats, policy, now).toFixed(2),
      String(valueFor(policy.shares, stats.owner)),
      String(valueFor(policy.maxQueued, stats.owner)),
      String(valueFor(policy.maxRunning, stats.owner)),
    ]);
  }
  return formatTable(rows);
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
  const owner = loaded.options.get('owner');
  const unknown = [...loaded.options.keys()].find((name) => name !== 'batch' && name !== 'owner');
  if (unknown !== undefined) throw new ConfigError(`unknown option --${unknown}\n${USAGE}`);
  if (batch !== undefined && owner === undefined) return batchAction(loaded, batch);
  const [action, id, ...rest] = loaded.positional;
  const needsId = action === 'show' || action === 'cancel' || action === 'requeue';
  if (
    action === undefined ||
    (action !== 'list' && action !== 'owners' && !needsId) ||
    (needsId && id === undefined) ||
    rest.length > 0 ||
    ((action === 'list' || action === 'owners') && id !== undefined) ||
    (owner !== undefined && (action !== 'list' || batch !== undefined))
  ) {
    process.stderr.write(USAGE);
    return 2;
  }
  const store = storeConfigFromValues(loaded.values);
  const queue = await openJobQueue(store);
  try {
    if (action === 'list') {
      const jobs = await queue.list();
      const shown = owner === undefined ? jobs : jobs.filter((job) => (job.owner ?? '') === owner);
      process.stdout.write(formatJobList(shown));
      return 0;
    }
    if (action === 'owners') {
      process.stdout.write(formatOwners(await queue.owners(), store.owners));
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
