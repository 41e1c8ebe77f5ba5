/** Structured, levelled logging shared by every component. */
import { atLeast, type LogLevel } from './log-level';

export type { LogLevel };
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

export type LogSink = (record: LogRecord) => void;

export function createLogger(
  component: string,
  sink: LogSink,
  minimum: LogLevel = 'debug',
): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (!atLeast(level, minimum)) return;
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

/** Longest string a log line carries for one value (or the message); longer ones are cut. */
export const LOG_TEXT_MAX_CHARS = 1000;

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * What must not reach a log line raw: C0 and C1 controls and DEL (a newline forges a record, ESC
 * drives the terminal), U+2028/U+2029, the bidirectional overrides and isolates (they make a line
 * read differently than it is), and lone surrogates (not text; they become U+FFFD or break UTF-8).
 */
const UNSAFE_CHARS =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(char: string): string {
  const named = NAMED_ESCAPES[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Makes text from anywhere (a job id a peer sent, an error message) safe for a one-line log
 * record: unsafe characters become escapes (`\n`, `\x00`, `\u2028`), and text longer than
 * `maxChars` is cut there, never inside a surrogate pair, and ends in `…`. Backslashes are kept
 * as they are, so a literal `\n` and an escaped newline read alike; neither can start a line.
 */
export function escapeLogText(text: string, maxChars = LOG_TEXT_MAX_CHARS): string {
  let kept = text;
  if (kept.length > maxChars) {
    const end = /[\ud800-\udbff]/.test(kept.charAt(maxChars - 1)) ? maxChars - 1 : maxChars;
    kept = kept.slice(0, end) + '…';
  }
  return kept.replace(UNSAFE_CHARS, escapeChar);
}

/**
 * A field value as text. A string that holds a space, `"` or `=` is quoted (logfmt style, with `"`
 * and `\` escaped inside the quotes), so that a value cannot pass for further fields.
 */
function formatFieldValue(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return String(value);
  if (!/[\s"=]/.test(value)) return escapeLogText(value);
  return `"${escapeLogText(value.replace(/[\\"]/g, '\\$&'))}"`;
}

/**
 * The report's console format, `[Fri Mar 25 16:18:57 2011] [info] message`, then the fields as
 * `key=value`. Always exactly one line: every string in it goes through escapeLogText.
 */
export function formatLogRecord(record: LogRecord): string {
  const stamp = new Date(record.time).toString().slice(0, 24);
  const fields = record.fields
    ? Object.entries(record.fields)
        .filter(
          (entry): entry is [string, string | number | boolean | null] => entry[1] !== undefined,
        )
        .map(([key, value]) => ` ${escapeLogText(key)}=${formatFieldValue(value)}`)
        .join('')
    : '';
  const component = escapeLogText(record.component);
  return `[${stamp}] [${record.level}] [${component}] ${escapeLogText(record.message)}${fields}`;
}

export function consoleLogger(component: string, minimum: LogLevel = 'info'): Logger {
  return createLogger(
    component,
    (record) => process.stderr.write(formatLogRecord(record) + '\n'),
    minimum,
  );
}

export const silentLogger: Logger = createLogger('silent', () => undefined, 'error');
