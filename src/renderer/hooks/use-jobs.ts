import { useCallback, useEffect, useState } from 'react';
import type { JobsView } from '../../contract/ui-contract';
import { useCopilot } from '../copilot-context';
import { errorMessage } from '../../base/errors';

export const JOB_HISTORY_LIMIT = 200;

/**
 * History and totals; refetched on every `job` event and when the set of running jobs changes
 * (which catches up on a `job` event that was missed). Not on every status: the running jobs
 * themselves come with the status (useAgentStatus).
 */
export function useJobs(): { jobs: JobsView | null; error: string | null } {
  const api = useCopilot();
  const [jobs, setJobs] = useState<JobsView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(() => {
    api.getJobs(JOB_HISTORY_LIMIT).then(
      (view) => {
        setJobs(view);
        setError(null);
      },
      (e: unknown) => setError(errorMessage(e)),
    );
  }, [api]);
  useEffect(() => {
    let runningIds = '';
    const offJob = api.on('job', refresh);
    const offStatus = api.on('status', (status) => {
      const ids = status.running.map((job) => job.jobId).join(' ');
      if (ids === runningIds) return;
      runningIds = ids;
      refresh();
    });
    refresh();
    return () => {
      offJob();
      offStatus();
    };
  }, [api, refresh]);
  return { jobs, error };
}
