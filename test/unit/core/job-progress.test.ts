import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  estimateRemainingMs,
  parseProgress,
  ProgressReader,
  readProgressFile,
} from '@copilot/core/job-progress';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'progress-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('job progress', () => {
  it('takes one number in [0, 1] and nothing else', () => {
    expect(parseProgress('0.25\n')).toBe(0.25);
    expect(parseProgress(' 1 ')).toBe(1);
    expect(parseProgress('0')).toBe(0);
    expect(parseProgress('.5')).toBe(0.5);
    expect(parseProgress('5e-1')).toBe(0.5);
    for (const bad of ['', '1.5', '-0.1', 'NaN', 'Infinity', '0x1', '0.5 0.6', 'half', '1e400'])
      expect(parseProgress(bad)).toBeNull();
  });

  it('reads a bounded file: a long one, a directory, a symlink or a missing one is no value', () => {
    const file = path.join(dir, 'progress');
    expect(readProgressFile(file)).toBeNull();
    fs.writeFileSync(file, '0.75\n');
    expect(readProgressFile(file)).toBe(0.75);
    fs.writeFileSync(file, `0.${'1'.repeat(100)}`);
    expect(readProgressFile(file)).toBeNull();
    fs.rmSync(file);
    fs.mkdirSync(file);
    expect(readProgressFile(file)).toBeNull();
    fs.rmSync(file, { recursive: true });
    fs.writeFileSync(path.join(dir, 'target'), '0.5');
    fs.symlinkSync(path.join(dir, 'target'), file);
    expect(readProgressFile(file)).toBeNull();
  });

  it('extrapolates the time to go from the time run', () => {
    expect(estimateRemainingMs(0.25, 60_000)).toBe(180_000);
    expect(estimateRemainingMs(1, 60_000)).toBe(0);
    expect(estimateRemainingMs(0, 60_000)).toBeNull();
    expect(estimateRemainingMs(null, 60_000)).toBeNull();
  });

  it('reads again only after its interval and keeps the last good value', () => {
    const reader = new ProgressReader(3000);
    const file = path.join(dir, 'progress');
    expect(reader.read('job-1', dir, 0)).toBeNull();
    fs.writeFileSync(file, '0.1');
    expect(reader.read('job-1', dir, 1000)).toBeNull();
    expect(reader.read('job-1', dir, 3000)).toBe(0.1);
    fs.writeFileSync(file, 'garbage');
    expect(reader.read('job-1', dir, 6000)).toBe(0.1);
    fs.writeFileSync(file, '0.4');
    expect(reader.read('job-1', dir, 9000)).toBe(0.4);
    reader.forget('job-1');
    fs.rmSync(file);
    expect(reader.read('job-1', dir, 9001)).toBeNull();
  });
});
