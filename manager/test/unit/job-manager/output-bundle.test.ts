import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create as createTar } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpackOutputBundle } from '@manager/job-manager/output-bundle';

const JOB = 'mx3abc-0123456789';
let root: string;
let outputDir: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'output-bundle-'));
  outputDir = path.join(root, JOB, 'output');
  fs.mkdirSync(outputDir, { recursive: true });
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** A work dir as the original agent leaves it before `tar -czf <jobID>.tgz .`. */
function originalWorkDir(): string {
  const work = path.join(root, 'work');
  fs.mkdirSync(path.join(work, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(work, 'stdout'), '4\n');
  fs.writeFileSync(path.join(work, 'stderr'), '');
  fs.writeFileSync(path.join(work, 'resources'), '');
  fs.writeFileSync(path.join(work, '_wrapper_.sh'), '#!/bin/sh\n');
  fs.writeFileSync(path.join(work, 'calculator.sh'), 'echo "2+2" | bc\n');
  fs.writeFileSync(path.join(work, 'sub', 'deep.txt'), 'deep\n');
  return work;
}

describe('unpackOutputBundle', () => {
  it("unpacks the original agent's bundle (GNU tar, ./ entries) flat beside it and removes it", async () => {
    const work = originalWorkDir();
    // Agent.pm: tar --directory $workdir -cvzf $workdir/$jobID.tgz --exclude $jobID.tgz .
    execFileSync('tar', ['--directory', work, '-czf', path.join(outputDir, `${JOB}.tgz`), '.']);
    const result = await unpackOutputBundle(JOB, outputDir);
    expect(result.found).toBe(true);
    expect(result.files.sort()).toEqual(
      ['_wrapper_.sh', 'calculator.sh', 'resources', 'stderr', 'stdout'].sort(),
    );
    expect(result.problems).toEqual(['left out of the output bundle: sub']);
    expect(fs.readFileSync(path.join(outputDir, 'stdout'), 'utf8')).toBe('4\n');
    expect(fs.existsSync(path.join(outputDir, `${JOB}.tgz`))).toBe(false);
    expect(fs.readdirSync(path.dirname(outputDir))).toEqual(['output']);
  });

  it('reads the done-dir layout too (<jobId>/stdout, listing 4.23)', async () => {
    const work = originalWorkDir();
    await createTar(
      { gzip: true, file: path.join(outputDir, `${JOB}.tgz`), cwd: work, prefix: JOB },
      ['stdout', 'stderr'],
    );
    const result = await unpackOutputBundle(JOB, outputDir);
    expect(result.files.sort()).toEqual(['stderr', 'stdout']);
    expect(fs.readFileSync(path.join(outputDir, 'stdout'), 'utf8')).toBe('4\n');
  });

  it('leaves a bundle alone when stdout was uploaded on its own', async () => {
    fs.writeFileSync(path.join(outputDir, 'stdout'), 'separate\n');
    fs.writeFileSync(path.join(outputDir, `${JOB}.tgz`), 'not even a tar');
    expect(await unpackOutputBundle(JOB, outputDir)).toEqual({
      found: false,
      files: [],
      problems: [],
    });
    expect(fs.existsSync(path.join(outputDir, `${JOB}.tgz`))).toBe(true);
  });

  it('keeps a refused bundle as an output and says why, writing nothing', async () => {
    const work = originalWorkDir();
    fs.symlinkSync('/etc/passwd', path.join(work, 'passwd'));
    execFileSync('tar', ['--directory', work, '-czf', path.join(outputDir, `${JOB}.tgz`), '.']);
    const result = await unpackOutputBundle(JOB, outputDir);
    expect(result.problems[0]).toMatch(/output bundle refused: .*symbolic link/);
    expect(fs.readdirSync(outputDir)).toEqual([`${JOB}.tgz`]);
    expect(fs.readdirSync(path.dirname(outputDir))).toEqual(['output']);
  });

  it('applies the byte caps it is given', async () => {
    const work = originalWorkDir();
    fs.writeFileSync(path.join(work, 'big.bin'), Buffer.alloc(5000));
    execFileSync('tar', ['--directory', work, '-czf', path.join(outputDir, `${JOB}.tgz`), '.']);
    const result = await unpackOutputBundle(JOB, outputDir, { maxFileBytes: 4096 });
    expect(result.problems[0]).toMatch(/refused: .*big\.bin.*exceeds/);
  });
});
