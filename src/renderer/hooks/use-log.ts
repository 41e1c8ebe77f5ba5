import { useEffect, useState } from 'react';
import type { LogEntry } from '../../contract/ui-contract';
import { useCopilot } from '../copilot-context';

export const LOG_LIMIT = 500;

/** The last LOG_LIMIT log entries, oldest first, with live `log` events appended. */
export function useLog(): LogEntry[] {
  const api = useCopilot();
  const [entries, setEntries] = useState<LogEntry[]>([]);
  useEffect(() => {
    let live = true;
    const buffered: LogEntry[] = [];
    let loaded = false;
    const off = api.on('log', (entry) => {
      if (!live) return;
      if (!loaded) buffered.push(entry);
      else setEntries((current) => [...current, entry].slice(-LOG_LIMIT));
    });
    api.getLog(LOG_LIMIT).then(
      (initial) => {
        if (!live) return;
        loaded = true;
        const seen = new Set(initial.map((e) => `${e.time}|${e.message}`));
        const merged = [...initial, ...buffered.filter((e) => !seen.has(`${e.time}|${e.message}`))];
        setEntries(merged.slice(-LOG_LIMIT));
      },
      () => {
        loaded = true;
      },
    );
    return () => {
      live = false;
      off();
    };
  }, [api]);
  return entries;
}
