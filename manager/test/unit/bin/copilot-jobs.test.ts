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
    // ID STATE OWNER (the submitting user's login name) PRIO EXIT ATTEMPTS
    expect(out.join('')).toMatch(new RegExp(`^${id}\\s+queued\\s+\\S+\\s+0\\s+-\\s+0`, 'm'));
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

  it('submits --number copies and an --array, and lists, cancels and requeues by batch', async () => {
    const state = `--JM_STATE_DIR=${path.join(root, 'state')}`;
    const command = path.join(root, 'task.sh');
    fs.writeFileSync(command, '#!/bin/bash\necho "$COPILOT_TASK_INDEX"\n');
    expect(await submitMain([`--command=${command}`, '--number', '3', '--env', 'A=1', state])).toBe(
      0,
    );
    const [copiesLine, ...copyIds] = out.join('').trim().split('\n');
    const copies = copiesLine?.replace(/^batch /, '') ?? '';
    expect(copyIds).toHaveLength(3);
    out = [];
    expect(await submitMain([`--command=${command}`, '--array=4', state])).toBe(0);
    const [arrayLine, ...arrayIds] = out.join('').trim().split('\n');
    const array = arrayLine?.replace(/^batch /, '') ?? '';
    expect(arrayIds).toHaveLength(4);
    for (const id of [...copyIds, ...arrayIds]) {
      expect(fs.existsSync(path.join(root, 'state', 'storage', id, 'input', 'task.sh'))).toBe(true);
    }

    const shown = async (id: string): Promise<string> => {
      out = [];
      expect(await jobsMain(['show', id, state])).toBe(0);
      return out.join('');
    };
    expect(await shown(copyIds[2] ?? '')).toContain('environment: A=1\n');
    expect(await shown(copyIds[2] ?? '')).toContain(`batch: ${copies}`);
    for (const [index, id] of arrayIds.entries()) {
      expect(await shown(id)).toContain(`environment: COPILOT_TASK_INDEX=${index}\n`);
    }

    out = [];
    expect(await jobsMain(['list', '--batch', array, state])).toBe(0);
    const listed = out.join('').trim().split('\n').slice(1);
    expect(listed.map((line) => line.split(/\s+/)[0])).toEqual(arrayIds);
    out = [];
    expect(await jobsMain(['cancel', '--batch', array, state])).toBe(0);
    expect(out.join('')).toBe(`batch ${array}: 4 cancelled, 0 left as they were\n`);
    out = [];
    expect(await jobsMain(['requeue', '--batch', copies, state])).toBe(0);
    expect(out.join('')).toBe(`batch ${copies}: 0 requeued, 3 left as they were\n`);
    out = [];
    expect(await jobsMain(['requeue', '--batch', array, state])).toBe(0);
    expect(out.join('')).toBe(`batch ${array}: 4 requeued, 0 left as they were\n`);
    await expect(jobsMain(['cancel', '--batch', 'no-such-batch', state])).rejects.toThrow(
      /no batch/,
    );
    await expect(
      submitMain([`--command=${command}`, '--number', '2', '--array', '2', state]),
    ).rejects.toThrow(/together/);
    await expect(submitMain([`--command=${command}`, '--number', '0', state])).rejects.toThrow(
      /whole number/,
    );
    await expect(
      submitMain([`--command=${command}`, '--array', '2', '--env', 'COPILOT_TASK_INDEX=9', state]),
    ).rejects.toThrow(/set by --array/);
  });

  it('lists owners and priorities, one owner at a time, and refuses jobs past the queued cap', async () => {
    const state = `--JM_STATE_DIR=${path.join(root, 'state')}`;
    const caps = ['--JM_OWNER_MAX_QUEUED=0 alice=3', '--JM_OWNER_SHARES=alice=3'];
    const command = path.join(root, 'task.sh');
    fs.writeFileSync(command, '#!/bin/bash\ntrue\n');
    const submit = ['--command', command, state, ...caps];
    expect(await submitMain([...submit, '--owner', 'alice', '--priority', '5'])).toBe(0);
    const alice = out.join('').trim();
    expect(await submitMain([...submit, '--owner', 'bob', '--number', '2'])).toBe(0);
    await expect(submitMain([...submit, '--owner', 'alice', '--number', '3'])).rejects.toThrow(
      'owner alice has 1 queued jobs; 3 more would pass its cap of 3 (JM_OWNER_MAX_QUEUED)',
    );
    out = [];
    expect(await jobsMain(['list', '--owner', 'alice', state])).toBe(0);
    const lines = out.join('').trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+OWNER\s+PRIO\s+EXIT/);
    expect(lines.slice(1).map((line) => line.split(/\s+/).slice(0, 4))).toEqual([
      [alice, 'queued', 'alice', '5'],
    ]);
    out = [];
    expect(await jobsMain(['show', alice, state])).toBe(0);
    expect(out.join('')).toContain('owner: alice\npriority: 5\n');
    out = [];
    expect(await jobsMain(['owners', state, ...caps])).toBe(0);
    expect(
      out
        .join('')
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/)),
    ).toEqual([
      ['OWNER', 'QUEUED', 'ACTIVE', 'USAGE/SHARE', 'SHARE', 'MAX_QUEUED', 'MAX_RUNNING'],
      ['alice', '1', '0', '0.00', '3', '3', '0'],
      ['bob', '2', '0', '0.00', '1', '0', '0'],
    ]);
    expect(await jobsMain(['owners', 'x', state])).toBe(2);
  });
});
