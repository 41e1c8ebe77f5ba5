/**
 * consoleLogger's lines, written in batches: a busy server (the job manager logs each job it
 * leases and finishes) otherwise pays one write system call per line, which on a loaded machine
 * cost the manager about 5 % of its CPU. Lines wait at most `flushMs` (default 50 ms), or until
 * 64 KiB are waiting; a warning or an error is written at once, after the lines before it; what
 * is waiting is written when the process exits. A SIGKILL loses what is waiting: `flushMs` 0
 * writes every line at once (JM_LOG_BATCH_MS=0 for the job manager).
 */
import { atLeast } from './log-level';
import { createLogger, formatLogRecord, type Logger, type LogLevel, type LogSink } from './logger';

export interface BatchedLogSink {
  sink: LogSink;
  /** Writes whatever is waiting now. */
  flush(): void;
}

const MAX_WAITING_CHARS = 64 * 1024;

export function batchedLogSink(
  write: (text: string) => void,
  options: { flushMs?: number } = {},
): BatchedLogSink {
  const flushMs = options.flushMs ?? 50;
  let waiting: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const text = waiting.join('');
    waiting = [];
    chars = 0;
    write(text);
  };
  const sink: LogSink = (record) => {
    const line = formatLogRecord(record) + '\n';
    waiting.push(line);
    chars += line.length;
    if (flushMs <= 0 || atLeast(record.level, 'warn') || chars >= MAX_WAITING_CHARS) flush();
    else timer ??= setTimeout(flush, flushMs).unref();
  };
  return { sink, flush };
}

/** consoleLogger (stderr, the same format) with its lines written in batches. */
export function batchedConsoleLogger(
  component: string,
  minimum: LogLevel = 'info',
  flushMs?: number,
): Logger {
  const batched = batchedLogSink(
    (text) => process.stderr.write(text),
    flushMs === undefined ? {} : { flushMs },
  );
  process.once('exit', batched.flush);
  return createLogger(component, batched.sink, minimum);
}
