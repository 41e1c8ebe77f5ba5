import type { JobOutcome, RunningJob } from '../../contract/ui-contract';
import { JobsPerDayChart } from '../components/jobs-per-day-chart';
import { RunningJobs } from '../components/running-jobs';
import { formatDuration, formatHours, formatTime } from '../format';
import { useJobs } from '../hooks/use-jobs';

const STATE_LABEL: Record<JobOutcome, string> = {
  running: 'running',
  done: 'succeeded',
  failed: 'failed',
  timeout: 'timed out',
  'validation-failed': 'invalid output',
  'download-failed': 'download failed',
  'upload-failed': 'upload failed',
  aborted: 'aborted',
  'image-refused': 'image refused',
};

/** `running` and `receivedAt` are the latest status's (useAgentStatus). */
export function JobsView({ running, receivedAt }: { running: RunningJob[]; receivedAt: number }) {
  const { jobs, error } = useJobs();
  if (!jobs) return <p className="muted">{error ? `Cannot load jobs: ${error}` : 'Loading…'}</p>;
  const { totals } = jobs;
  return (
    <div className="stack">
      <div className="totals" data-testid="job-totals">
        <div className="total">
          <span className="total-value">{totals.jobs}</span>
          <span className="total-label">jobs</span>
        </div>
        <div className="total total-ok">
          <span className="total-value">{totals.succeeded}</span>
          <span className="total-label">succeeded</span>
        </div>
        <div className="total total-bad">
          <span className="total-value">{totals.failed}</span>
          <span className="total-label">failed</span>
        </div>
        <div className="total">
          <span className="total-value">{formatHours(totals.cpuHours)}</span>
          <span className="total-label">CPU hours</span>
        </div>
      </div>
      <section className="card">
        <h3>Jobs per day (last two weeks)</h3>
        <JobsPerDayChart perDay={totals.perDay} />
      </section>
      <section className="card">
        <h3>Running</h3>
        <RunningJobs jobs={running} receivedAt={receivedAt} />
      </section>
      <section className="card">
        <h3>History</h3>
        {jobs.history.length === 0 ? (
          <p className="muted">No finished jobs yet.</p>
        ) : (
          <div className="table-scroll">
            <table data-testid="job-history">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Command</th>
                  <th scope="col">Result</th>
                  <th scope="col">Exit</th>
                  <th scope="col">Finished</th>
                  <th scope="col" className="num">
                    Wall
                  </th>
                  <th scope="col" className="num">
                    CPU
                  </th>
                </tr>
              </thead>
              <tbody>
                {jobs.history.map((job) => (
                  <tr key={`${job.jobId}-${job.receivedAt}`} title={job.error}>
                    <td>{job.jobId}</td>
                    <td>
                      <code className="job-command">{job.command}</code>
                    </td>
                    <td>
                      <span className={`badge badge-${job.state}`}>{STATE_LABEL[job.state]}</span>
                      {job.network === true && (
                        <span className="badge" title="This job had network access">
                          network
                        </span>
                      )}
                    </td>
                    <td>{job.exitCode ?? '—'}</td>
                    <td>{formatTime(job.finishedAt)}</td>
                    <td className="num">{formatDuration(job.wallSeconds * 1000)}</td>
                    <td className="num">{formatDuration(job.cpuSeconds * 1000)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
