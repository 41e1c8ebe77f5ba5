import { useCallback, useEffect, useState } from 'react';
import type { JobsView } from '../../contract/ui-contract';
import { useCopilot } from '../copilot-context';
import { errorText } from '../format';

export const JOB_HISTORY_LIMIT = 200;

/** Running jobs, history and totals; refetched on every `job` event and `status` change. */
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
      (e: unknown) => setError(errorText(e)),
    );
  }, [api]);
  useEffect(() => {
    const offJob = api.on('job', refresh);
    const offStatus = api.on('status', refresh);
    refresh();
    return () => {
      offJob();
      offStatus();
    };
  }, [api, refresh]);
  return { jobs, error };
}
