/** Structured, levelled logging shared by every component. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface LogRecord {
  time: string;
  level: LogLevel;
  component: string;
  message: string;
  fields?: LogFields;
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(component: string): Logger;
}

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

export type LogSink = (record: LogRecord) => void;

export function createLogger(
  component: string,
  sink: LogSink,
  minimum: LogLevel = 'debug',
): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < LEVEL_RANK[minimum]) return;
    const record: LogRecord = { time: new Date().toISOString(), level, component, message };
    if (fields) record.fields = fields;
    sink(record);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (name) => createLogger(`${component}.${name}`, sink, minimum),
  };
}

/** The report's console format: `[Fri Mar 25 16:18:57 2011] [info] message`. */
export function formatLogRecord(record: LogRecord): string {
  const stamp = new Date(record.time).toString().slice(0, 24);
  const fields = record.fields
    ? ' ' +
      Object.entries(record.fields)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(' ')
    : '';
  return `[${stamp}] [${record.level}] [${record.component}] ${record.message}${fields}`;
}

export function consoleLogger(component: string, minimum: LogLevel = 'info'): Logger {
  return createLogger(
    component,
    (record) => process.stderr.write(formatLogRecord(record) + '\n'),
    minimum,
  );
}

export const silentLogger: Logger = createLogger('silent', () => undefined, 'error');
