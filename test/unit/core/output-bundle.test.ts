import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { list as listTar } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outputUploads, type Uploads } from '@copilot/core/output-bundle';

let root: string;
let files: Uploads;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-bundle-'));
  fs.mkdirSync(path.join(root, 'output'));
  const write = (relative: string, text: string): string => {
    const file = path.join(root, relative);
    fs.writeFileSync(file, text);
    return file;
  };
  files = [
    ['stdout', write('stdout', '4\n')],
    ['stderr', write('stderr', '')],
    ['result.txt', write('output/result.txt', 'r\n')],
  ];
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

async function entries(archive: string): Promise<Array<[string, string]>> {
  const seen: Array<[string, string]> = [];
  await listTar({ file: archive, onReadEntry: (entry) => seen.push([entry.path, entry.type]) });
  return seen;
}

describe('outputUploads', () => {
  it('uploads the separate files to HTTP storage', async () => {
    const target = { outputChirpUrl: 'http://jm:8088', outputDir: '/storage/output/j/t' };
    expect(await outputUploads(target, 'job-1', files, root)).toBe(files);
  });

  it("uploads one <jobID>.tgz laid out like the original agent's (./name) to Chirp storage", async () => {
    const target = { outputChirpUrl: 'chirp.example:9094', outputDir: 'job-1' };
    const uploads = await outputUploads(target, 'job-1', files, root);
    expect(uploads).toEqual([['job-1.tgz', path.join(root, 'job-1.tgz')]]);
    expect(await entries(path.join(root, 'job-1.tgz'))).toEqual([
      ['./stdout', 'File'],
      ['./stderr', 'File'],
      ['./result.txt', 'File'],
    ]);
    expect(fs.existsSync(path.join(root, 'bundle'))).toBe(false);
  });

  it('stores outputs the job hard-linked together as files, not links', async () => {
    const linked = path.join(root, 'output', 'copy.txt');
    fs.linkSync(path.join(root, 'output', 'result.txt'), linked);
    const target = { outputChirpUrl: 'chirp.example', outputDir: '/j/output' };
    const [[, bundle] = ['', '']] = await outputUploads(
      target,
      'job-2',
      [...files, ['copy.txt', linked]],
      root,
    );
    expect((await entries(bundle)).map(([, type]) => type)).toEqual([
      'File',
      'File',
      'File',
      'File',
    ]);
  });
});
