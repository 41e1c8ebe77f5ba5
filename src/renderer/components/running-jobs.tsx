import type { RunningJob } from '../../contract/ui-contract';
import { formatDuration } from '../format';
import { useNow } from '../hooks/use-now';
import { ProgressBar } from './progress-bar';

const CLOCKED_PHASES: ReadonlySet<RunningJob['phase']> = new Set(['running', 'starting']);

/** Running jobs with progress = elapsed time against the wall-clock limit, ticking each second. */
export function RunningJobs({ jobs, receivedAt }: { jobs: RunningJob[]; receivedAt: number }) {
  const now = useNow(1000);
  if (jobs.length === 0) return <p className="muted">No job is running.</p>;
  return (
    <ul className="job-list">
      {jobs.map((job) => {
        const elapsed =
          job.elapsedMs + (CLOCKED_PHASES.has(job.phase) ? Math.max(0, now - receivedAt) : 0);
        return (
          <li key={job.jobId} className="job-card" data-testid="running-job">
            <div className="job-card-head">
              <strong>Job {job.jobId}</strong>
              <span className={`badge badge-${job.phase}`}>{job.phase}</span>
            </div>
            <code className="job-command" title={job.command}>
              {job.command}
            </code>
            <ProgressBar
              value={elapsed}
              max={job.wallClockLimitMs}
              label={`Job ${job.jobId} time used`}
            />
            <div className="job-card-foot muted">
              <span>
                {formatDuration(elapsed)} of {formatDuration(job.wallClockLimitMs)}
              </span>
              <span>CPU {formatDuration(job.cpuSeconds * 1000)}</span>
              <span>from {job.manager}</span>
            </div>
          </li>
        );
      })}
    </ul>
  );
}
