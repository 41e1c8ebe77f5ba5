import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobHistory } from '@copilot/core/job-history';
import type { JobHistoryRecord } from '@copilot/contract/ui-contract';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'history-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function record(
  jobId: string,
  state: JobHistoryRecord['state'],
  finishedAt: string,
  cpuSeconds = 1800,
): JobHistoryRecord {
  return {
    jobId,
    manager: 'jm@localhost/generic',
    command: 'calculator.sh',
    state,
    exitCode: state === 'done' ? 0 : 3,
    receivedAt: finishedAt,
    startedAt: finishedAt,
    finishedAt,
    cpuSeconds,
    wallSeconds: 10,
  };
}

describe('job history', () => {
  it('appends, survives a reload, and totals jobs, CPU hours and per-day counts', () => {
    const history = new JobHistory(dir);
    history.load();
    history.append(record('a', 'done', '2026-11-20T10:00:00'));
    history.append(record('b', 'failed', '2026-11-20T11:00:00'));
    history.append(record('c', 'done', '2026-11-22T10:00:00'));
    const reloaded = new JobHistory(dir);
    expect(reloaded.load()).toBe(0);
    expect(reloaded.list().map((entry) => entry.jobId)).toEqual(['c', 'b', 'a']);
    expect(reloaded.list(1).map((entry) => entry.jobId)).toEqual(['c']);
    expect(reloaded.totals()).toEqual({
      jobs: 3,
      succeeded: 2,
      failed: 1,
      cpuHours: 1.5,
      perDay: [
        { day: '2026-11-20', jobs: 2 },
        { day: '2026-11-22', jobs: 1 },
      ],
    });
  });

  it('skips a truncated last line and keeps later records readable', () => {
    const history = new JobHistory(dir);
    history.append(record('a', 'done', '2026-11-20T10:00:00'));
    fs.appendFileSync(history.file, '{"jobId":"b","manager":"jm@loc');
    const reloaded = new JobHistory(dir);
    expect(reloaded.load()).toBe(1);
    expect(reloaded.list().map((entry) => entry.jobId)).toEqual(['a']);
    reloaded.append(record('c', 'timeout', '2026-11-21T10:00:00'));
    const again = new JobHistory(dir);
    expect(again.load()).toBe(1);
    expect(again.list().map((entry) => entry.jobId)).toEqual(['c', 'a']);
    expect(again.has('c')).toBe(true);
  });

  it('ignores lines that are JSON but not job records', () => {
    fs.writeFileSync(path.join(dir, 'job-history.jsonl'), '{"hello":1}\n[]\n');
    const history = new JobHistory(dir);
    expect(history.load()).toBe(2);
    expect(history.totals().jobs).toBe(0);
  });
});
