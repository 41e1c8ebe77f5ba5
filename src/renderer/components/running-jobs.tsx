import type { ReactNode } from 'react';
import type { ImagePullProgress, RunningJob } from '../../contract/ui-contract';
import { formatDuration } from '../format';
import { useNow } from '../hooks/use-now';
import { ProgressBar } from './progress-bar';

const CLOCKED_PHASES: ReadonlySet<RunningJob['phase']> = new Set(['running', 'starting']);

function megabytes(bytes: number): string {
  return (bytes / 1024 ** 2).toFixed(1);
}

/** The job's image being pulled: bytes so far of all its layers, and the percent when known. */
function PullProgress({ jobId, pull }: { jobId: string; pull: ImagePullProgress }) {
  const { currentBytes, totalBytes } = pull;
  return (
    <>
      <ProgressBar
        value={currentBytes}
        max={totalBytes ?? 0}
        warnAt={Infinity}
        label={`Job ${jobId} image pull`}
      />
      <div className="job-card-foot muted">
        <span data-testid="job-pull" title={pull.image}>
          Pulling the job's image: {megabytes(currentBytes)} MB
          {totalBytes !== null && totalBytes > 0
            ? ` of ${megabytes(totalBytes)} MB (${Math.floor((currentBytes / totalBytes) * 100)} %)`
            : ''}
        </span>
      </div>
    </>
  );
}

/**
 * Running jobs, ticking each second. The bar is the job's own fraction done with an ETA when
 * it writes one ($COPILOT_PROGRESS_FILE), else elapsed time against the wall-clock limit.
 */
export function RunningJobs({
  jobs,
  receivedAt,
  actions,
}: {
  jobs: RunningJob[];
  receivedAt: number;
  /** Buttons for one job (suspend, resume, abort), under its card. */
  actions?: (job: RunningJob) => ReactNode;
}) {
  const now = useNow(1000);
  if (jobs.length === 0) return <p className="muted">No job is running.</p>;
  return (
    <ul className="job-list">
      {jobs.map((job) => {
        const since = CLOCKED_PHASES.has(job.phase) ? Math.max(0, now - receivedAt) : 0;
        const elapsed = job.elapsedMs + since;
        return (
          <li key={job.jobId} className="job-card" data-testid="running-job">
            <div className="job-card-head">
              <strong>Job {job.jobId}</strong>
              <span className={`badge badge-${job.phase}`}>{job.phase}</span>
            </div>
            <code className="job-command" title={job.command}>
              {job.command}
            </code>
            {job.phase === 'pulling' && job.pull !== undefined ? (
              <PullProgress jobId={job.jobId} pull={job.pull} />
            ) : job.progress === null ? (
              <ProgressBar
                value={elapsed}
                max={job.wallClockLimitMs}
                label={`Job ${job.jobId} time used`}
              />
            ) : (
              <ProgressBar
                value={job.progress}
                max={1}
                warnAt={Infinity}
                label={`Job ${job.jobId} progress`}
              />
            )}
            <div className="job-card-foot muted">
              {job.progress !== null && (
                <span data-testid="job-progress">
                  {Math.floor(job.progress * 100)} % done
                  {job.etaMs !== null &&
                    `, about ${formatDuration(Math.max(0, job.etaMs - since))} left`}
                </span>
              )}
              <span>
                {formatDuration(elapsed)} of {formatDuration(job.wallClockLimitMs)}
              </span>
              <span>CPU {formatDuration(job.cpuSeconds * 1000)}</span>
              <span>from {job.manager}</span>
            </div>
            {actions && <div className="actions job-actions">{actions(job)}</div>}
          </li>
        );
      })}
    </ul>
  );
}
