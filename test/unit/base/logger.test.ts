import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  consoleLogger,
  escapeLogText,
  formatLogRecord,
  LOG_TEXT_MAX_CHARS,
  type LogRecord,
} from '@copilot/base/logger';

/** A job id a hostile peer might send: a newline and a forged record, then a NUL. */
const FORGED_ID = 'x\n2026-01-01 INFO job finished job=other\u0000';

const record = (message: string, fields?: LogRecord['fields']): LogRecord => ({
  time: '2026-01-01T12:00:00.000Z',
  level: 'info',
  component: 'jobmanager',
  message,
  ...(fields ? { fields } : {}),
});

afterEach(() => vi.restoreAllMocks());

describe('log text from peers', () => {
  it('writes exactly one stderr line per record, whatever a peer put in a field or the message', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const logger = consoleLogger('jobmanager', 'debug');
    logger.info('job started', { job: FORGED_ID });
    logger.warn(`unknown job ${FORGED_ID}`);
    logger.error('bad\r\ncommand\u2028\u2029\u0085', { from: 'a\u001b[31mred', n: 3 });

    const text = written.join('');
    expect(text.split('\n')).toHaveLength(3 + 1); // three lines and the final newline
    // eslint-disable-next-line no-control-regex -- the characters a peer must not get into a log line
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    const lines = text.split('\n');
    expect(lines[0]).toContain('job started job="x\\n2026-01-01 INFO job finished job=other\\x00"');
    expect(lines[1]).toContain('unknown job x\\n2026-01-01 INFO job finished job=other\\x00');
    expect(lines[2]).toContain('bad\\r\\ncommand\\u2028\\u2029\\x85 from=a\\x1b[31mred n=3');
  });

  it('escapes control characters, DEL, line separators and lone surrogates', () => {
    expect(escapeLogText('a\tb\u0000c\u007fd\u0080e\u009f')).toBe('a\\tb\\x00c\\x7fd\\x80e\\x9f');
    expect(escapeLogText('\u2028\u2029')).toBe('\\u2028\\u2029');
    expect(escapeLogText('lone \ud800 and \udc00')).toBe('lone \\ud800 and \\udc00');
    // Pairs, accents and ordinary backslashes stay as they are.
    expect(escapeLogText('ok 😀 é C:\\dir')).toBe('ok 😀 é C:\\dir');
    // Bidirectional overrides could make a line read differently than it is.
    expect(escapeLogText('a\u202eb\u2066c')).toBe('a\\u202eb\\u2066c');
  });

  it('cuts an over-long value, never inside a surrogate pair', () => {
    const long = 'a'.repeat(LOG_TEXT_MAX_CHARS + 50);
    expect(escapeLogText(long)).toBe('a'.repeat(LOG_TEXT_MAX_CHARS) + '…');
    const pairAtCut = 'a'.repeat(LOG_TEXT_MAX_CHARS - 1) + '😀tail';
    expect(escapeLogText(pairAtCut)).toBe('a'.repeat(LOG_TEXT_MAX_CHARS - 1) + '…');
    const line = formatLogRecord(record('m', { big: long }));
    expect(line.length).toBeLessThan(LOG_TEXT_MAX_CHARS + 200);
  });

  it('quotes a field value that could read as another field', () => {
    expect(formatLogRecord(record('job finished', { job: 'a b=c', code: 0, ok: true }))).toMatch(
      /\] job finished job="a b=c" code=0 ok=true$/,
    );
    expect(formatLogRecord(record('m', { q: 'say "hi"' }))).toMatch(/ q="say \\"hi\\""$/);
    expect(formatLogRecord(record('m', { plain: 'abc-1', none: null }))).toMatch(
      / plain=abc-1 none=null$/,
    );
  });

  it('escapes the component and field names too', () => {
    const line = formatLogRecord({
      ...record('m', { 'k\ney': 'v' }),
      component: 'agent.\nfake',
    });
    expect(line).not.toContain('\n');
    expect(line).toContain('[agent.\\nfake] m k\\ney=v');
  });
});
