import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from '@copilot/core/event-log';
import { formatLogRecord } from '@copilot/base/logger';
import type { LogEntry } from '@copilot/contract/ui-contract';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'event-log-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('event log', () => {
  it('keeps a bounded ring, drops undefined fields, and notifies listeners', () => {
    const log = new EventLog({ ringSize: 3, minimumLevel: 'info' });
    const seen: LogEntry[] = [];
    log.onEntry((entry) => seen.push(entry));
    const logger = log.logger('agent').child('job');
    logger.debug('hidden');
    for (let i = 0; i < 5; i += 1) logger.info(`m${i}`, { i, none: undefined });
    expect(log.entries().map((entry) => entry.message)).toEqual(['m2', 'm3', 'm4']);
    expect(log.entries(1)[0]).toMatchObject({
      level: 'info',
      component: 'agent.job',
      fields: { i: 4 },
    });
    expect(seen).toHaveLength(5);
    expect('none' in (seen[0]?.fields ?? {})).toBe(false);
  });

  it('writes a rotating file', () => {
    const log = new EventLog({ dir, maxFileBytes: 300, keepFiles: 2 });
    const logger = log.logger('agent');
    for (let i = 0; i < 20; i += 1) logger.warn('a fairly long message to fill the file', { i });
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['agent.log', 'agent.log.1', 'agent.log.2']);
    for (const file of files)
      expect(fs.statSync(path.join(dir, file)).size).toBeLessThanOrEqual(300);
    expect(fs.readFileSync(path.join(dir, 'agent.log'), 'utf8')).toMatch(
      /\[warn\] \[agent\] a fairly long message to fill the file i=19\n$/,
    );
  });

  it('counts bytes, not characters, against the file size', () => {
    const log = new EventLog({ dir, maxFileBytes: 300, keepFiles: 2 });
    const logger = log.logger('agent');
    for (let i = 0; i < 20; i += 1) logger.warn('ü'.repeat(60));
    for (const file of fs.readdirSync(dir))
      expect(fs.statSync(path.join(dir, file)).size).toBeLessThanOrEqual(300);
  });

  it('keeps one line per record in the file, the echo and the UI entries, whatever a peer sent', () => {
    const echoed: string[] = [];
    const log = new EventLog({ dir, echo: (record) => echoed.push(formatLogRecord(record)) });
    const seen: LogEntry[] = [];
    log.onEntry((entry) => seen.push(entry));
    const logger = log.logger('agent');
    const forged = 'x\n2026-01-01 INFO job finished\u0000';
    logger.info('job received', { job: forged });
    logger.warn(`no such job ${forged}`);
    logger.info('done', { output: 'y'.repeat(5000) });

    const file = fs.readFileSync(path.join(dir, 'agent.log'), 'utf8');
    expect(file.split('\n')).toHaveLength(3 + 1);
    // eslint-disable-next-line no-control-regex -- the characters a peer must not get into a log line
    expect(file).not.toMatch(/\u0000|\n2026/);
    expect(file).toContain('job="x\\n2026-01-01 INFO job finished\\x00"');
    expect(echoed.join('\n')).toBe(file.trimEnd());
    for (const entry of seen) {
      const shown = [entry.component, entry.message, ...Object.values(entry.fields ?? {})];
      // eslint-disable-next-line no-control-regex -- the characters a peer must not get into a log line
      for (const text of shown) expect(String(text)).not.toMatch(/[\u0000-\u001f\u2028\u2029]/);
    }
    expect(seen[1]?.message).toBe('no such job x\\n2026-01-01 INFO job finished\\x00');
    expect(String(seen[2]?.fields?.output).length).toBeLessThanOrEqual(1001);
  });
});
