import { useState } from 'react';
import type { LogLevel } from '../../contract/ui-contract';
import { useLog } from '../hooks/use-log';

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function LogView() {
  const entries = useLog();
  const [minLevel, setMinLevel] = useState<LogLevel>('info');
  const shown = entries.filter((e) => RANK[e.level] >= RANK[minLevel]).reverse();
  return (
    <div className="stack">
      <div className="toolbar">
        <label htmlFor="log-level">Show</label>
        <select
          id="log-level"
          value={minLevel}
          onChange={(e) => setMinLevel(e.target.value as LogLevel)}
        >
          {LEVELS.map((level) => (
            <option key={level} value={level}>
              {level} and above
            </option>
          ))}
        </select>
        <span className="muted">
          {shown.length} of {entries.length} entries, newest first
        </span>
      </div>
      <ol className="log" aria-live="polite" data-testid="log">
        {shown.map((entry, i) => (
          <li key={`${entry.time}-${i}`} className={`log-${entry.level}`}>
            <time dateTime={entry.time}>{entry.time.slice(11, 19)}</time>
            <span className={`badge badge-log-${entry.level}`}>{entry.level}</span>
            <span className="log-component">{entry.component}</span>
            <span className="log-message">
              {entry.message}
              {entry.fields &&
                Object.entries(entry.fields).map(([k, v]) => (
                  <span key={k} className="log-field">
                    {' '}
                    {k}={String(v)}
                  </span>
                ))}
            </span>
          </li>
        ))}
      </ol>
    </div>
  );
}
