import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main as submitMain } from '@manager/bin/copilot-job-submit';
import { openJobQueue } from '@manager/job-manager/open-job-queue';
import { storeConfigFromValues } from '@manager/job-manager/manager-config';
import { ConfigValues } from '@copilot/protocol';

let root: string;
let command: string;
let out: string[];

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-submit-'));
  command = path.join(root, 'run.sh');
  fs.writeFileSync(command, '#!/bin/sh\necho hi\n');
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

const stateValues = () =>
  ConfigValues.from({ overrides: new Map([['JM_STATE_DIR', path.join(root, 'state')]]) });

const IMAGE = `127.0.0.1:5000/copilot/job@sha256:${'c'.repeat(64)}`;

async function storedJob(id: string) {
  const queue = await openJobQueue(storeConfigFromValues(stateValues()));
  try {
    return await queue.get(id);
  } finally {
    await queue.close();
  }
}

describe('copilot-job-submit --owner, --priority and --image', () => {
  it('stores them with the job', async () => {
    const code = await submitMain([
      `--JM_STATE_DIR=${path.join(root, 'state')}`,
      `--command=${command}`,
      '--owner=alice',
      '--priority=-7',
      `--image=${IMAGE}`,
    ]);
    expect(code).toBe(0);
    const job = await storedJob(out.join('').trim());
    expect(job).toMatchObject({ owner: 'alice', priority: -7, image: IMAGE, state: 'queued' });
  });

  it('gives the submitting user as owner by default', async () => {
    await submitMain([`--JM_STATE_DIR=${path.join(root, 'state')}`, `--command=${command}`]);
    const job = await storedJob(out.join('').trim());
    expect(job?.owner).toBe(os.userInfo().username);
  });

  it.each([
    ['an image not pinned by digest', '--image=copilot-job:latest', /digest/],
    ['a fractional priority', '--priority=1.5', /--priority/],
    ['an owner with a space', '--owner=a b', /invalid owner/],
  ])('refuses %s and stores nothing', async (_why, option, message) => {
    await expect(
      submitMain([`--JM_STATE_DIR=${path.join(root, 'state')}`, `--command=${command}`, option]),
    ).rejects.toThrow(message);
    const queue = await openJobQueue(storeConfigFromValues(stateValues()));
    try {
      expect(await queue.list()).toEqual([]);
    } finally {
      await queue.close();
    }
  });
});
