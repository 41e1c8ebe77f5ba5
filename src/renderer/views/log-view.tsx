import { useState } from 'react';
import { atLeast, LOG_LEVELS, type LogLevel } from '../../base/log-level';
import { useLog } from '../hooks/use-log';

export function LogView() {
  const entries = useLog();
  const [minLevel, setMinLevel] = useState<LogLevel>('info');
  const shown = entries.filter((e) => atLeast(e.level, minLevel)).reverse();
  return (
    <div className="stack">
      <div className="toolbar">
        <label htmlFor="log-level">Show</label>
        <select
          id="log-level"
          value={minLevel}
          onChange={(e) => setMinLevel(e.target.value as LogLevel)}
        >
          {LOG_LEVELS.map((level) => (
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
