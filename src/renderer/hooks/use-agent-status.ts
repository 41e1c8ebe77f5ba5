import { useEffect, useState } from 'react';
import type { AgentStatus } from '../../contract/ui-contract';
import { useCopilot } from '../copilot-context';

export interface StatusState {
  status: AgentStatus | null;
  /** Date.now() when `status` arrived, to advance job clocks between updates. */
  receivedAt: number;
  error: string | null;
}

/** The agent's status: fetched once, then kept current by `status` events. */
export function useAgentStatus(): StatusState {
  const api = useCopilot();
  const [state, setState] = useState<StatusState>({ status: null, receivedAt: 0, error: null });
  useEffect(() => {
    let live = true;
    const accept = (status: AgentStatus): void => {
      if (live) setState({ status, receivedAt: Date.now(), error: null });
    };
    const off = api.on('status', accept);
    api.getStatus().then(accept, (error: unknown) => {
      if (live) setState((s) => ({ ...s, error: String(error) }));
    });
    return () => {
      live = false;
      off();
    };
  }, [api]);
  return state;
}
