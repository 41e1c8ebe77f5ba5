import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { batchedLogSink } from '@copilot/base/batched-log-sink';
import { createLogger } from '@copilot/base/logger';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

afterEach(() => {
  vi.useRealTimers();
});

function batchedLogger(flushMs = 50) {
  const writes: string[] = [];
  const batched = batchedLogSink((text) => writes.push(text), { flushMs });
  return { writes, batched, logger: createLogger('jobmanager', batched.sink, 'debug') };
}

describe('batched log lines', () => {
  it('writes the info lines of one interval in one write, in order, each one line', () => {
    vi.useFakeTimers();
    const { writes, logger } = batchedLogger();
    logger.info('job leased', { job: 'a' });
    logger.debug('lease renewed', { job: 'a' });
    logger.info('job finished', { job: 'a\nforged line' });
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(49);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(writes).toHaveLength(1);
    const lines = (writes[0] ?? '').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/\[info\] \[jobmanager\] job leased job=a$/);
    expect(lines[1]).toMatch(/\[debug\] .*lease renewed/);
    expect(lines[2]).toMatch(/job finished job="a\\nforged line"$/);
    expect(lines[3]).toBe('');
    logger.info('later');
    vi.advanceTimersByTime(50);
    expect(writes).toHaveLength(2);
  });

  it('writes each line at once with flushMs 0 (nothing waits for a SIGKILL to lose)', () => {
    vi.useFakeTimers();
    const { writes, logger } = batchedLogger(0);
    logger.info('job finished', { job: 'a' });
    expect(writes).toHaveLength(1);
    logger.info('job finished', { job: 'b' });
    expect(writes).toHaveLength(2);
  });

  it('writes a warning or an error at once, after the lines waiting before it', () => {
    vi.useFakeTimers();
    const { writes, logger } = batchedLogger();
    logger.info('first');
    logger.warn('trouble');
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/first\n.*\[warn\] .*trouble\n$/);
    logger.error('worse');
    expect(writes).toHaveLength(2);
    vi.advanceTimersByTime(100);
    expect(writes).toHaveLength(2);
  });

  it('writes at once when 64 KiB are waiting', () => {
    vi.useFakeTimers();
    const { writes, logger } = batchedLogger(60_000);
    for (let index = 0; index < 200 && writes.length === 0; index += 1) {
      logger.info('x'.repeat(500));
    }
    expect(writes).toHaveLength(1);
    expect((writes[0] ?? '').length).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('batchedConsoleLogger writes what is waiting to stderr when the process exits', () => {
    const code = `const { batchedConsoleLogger } = await import(${JSON.stringify(
      path.join(REPO_ROOT, 'src/base/batched-log-sink.ts'),
    )});
      const logger = batchedConsoleLogger('jobmanager');
      logger.info('job finished', { job: 'last' });
      logger.debug('not at info');
      process.exit(0);`;
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 },
    );
    expect(child.status).toBe(0);
    expect(child.stderr).toMatch(/^\[.{24}\] \[info\] \[jobmanager\] job finished job=last\n$/);
  });
});
