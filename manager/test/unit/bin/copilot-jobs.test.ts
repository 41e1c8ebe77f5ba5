import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main as jobsMain } from '@manager/bin/copilot-jobs';
import { main as submitMain } from '@manager/bin/copilot-job-submit';

let root: string;
let out: string[];

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-cli-'));
  out = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('copilot-job-submit and copilot-jobs', () => {
  it('submits, lists, shows, cancels and requeues a job in the store', async () => {
    const state = `--JM_STATE_DIR=${path.join(root, 'state')}`;
    const command = path.join(root, 'calculator.sh');
    const data = path.join(root, 'numbers.txt');
    fs.writeFileSync(command, '#!/bin/bash\necho "2+2" | bc\n');
    fs.writeFileSync(data, '2 2\n');
    const submitArgs = [
      `--command=${command}`,
      '--input',
      data,
      '--env',
      'A=1',
      '--env',
      'B=2',
      '--packages',
      'bc gawk',
      '--requirements',
      'other.Memory >= 512',
      state,
    ];
    expect(await submitMain(submitArgs)).toBe(0);
    const id = out.join('').trim();
    const input = path.join(root, 'state', 'storage', id, 'input');
    expect(fs.readdirSync(input).sort()).toEqual(['calculator.sh', 'numbers.txt']);
    expect(fs.statSync(path.join(input, 'calculator.sh')).mode & 0o111).not.toBe(0);

    out = [];
    expect(await jobsMain(['list', state])).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`^${id}\\s+queued\\s+-\\s+0`, 'm'));
    out = [];
    expect(await jobsMain(['show', id, state])).toBe(0);
    const shown = out.join('');
    expect(shown).toContain('environment: A=1 B=2');
    expect(shown).toContain('packages: bc gawk');
    expect(shown).toContain('inputFiles: calculator.sh numbers.txt');
    expect(shown).toContain('requirements: other.Memory >= 512');
    out = [];
    expect(await jobsMain(['cancel', id, state])).toBe(0);
    expect(out.join('')).toBe(`${id} cancelled\n`);
    out = [];
    expect(await jobsMain(['requeue', id, state])).toBe(0);
    expect(out.join('')).toBe(`${id} queued\n`);
    await expect(jobsMain(['requeue', id, state])).rejects.toThrow(
      `job ${id} is queued; not requeued`,
    );
    await expect(jobsMain(['cancel', 'no-such-job', state])).rejects.toThrow('no job no-such-job');
  });

  it('refuses bad input with clear errors and stores nothing', async () => {
    const state = `--JM_STATE_DIR=${path.join(root, 'state')}`;
    await expect(submitMain([state])).rejects.toThrow(/--command is required/);
    await expect(submitMain(['--command=/no/such/file', state])).rejects.toThrow(
      /not a readable file/,
    );
    const bad = path.join(root, 'bad;name.sh');
    fs.writeFileSync(bad, 'true\n');
    await expect(submitMain([`--command=${bad}`, state])).rejects.toThrow(/unsafe file name/);
    await expect(submitMain(['--command=x', '--bogus=1', state])).rejects.toThrow(
      /unknown option --bogus/,
    );
    expect(await jobsMain(['show', 'nope', state])).toBe(1);
    out = [];
    expect(await jobsMain(['list', state])).toBe(0);
    expect(out.join('').trim().split('\n')).toHaveLength(1);
  });
});
