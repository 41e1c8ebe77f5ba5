/**
 * archiveJobOutputs: the in-memory archive of small outputs has the entries node-tar writes for
 * the same files (path, mode, size, mtime, type, contents), the system tar reads it, and outputs
 * too big for it, or names ustar cannot hold, still go through node-tar.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { create as createTar, list as listTar, type ReadEntry } from 'tar';
import { newJobId } from '@manager/job-manager/job-record';
import {
  archiveJobOutputs,
  SMALL_OUTPUTS_MAX_BYTES,
  tarInMemory,
} from '@manager/job-manager/job-archive';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-archive-'));

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

interface EntrySummary {
  path: string;
  type: string;
  mode: number | undefined;
  size: number | undefined;
  mtime: number | undefined;
  uid: number | undefined;
  content: string;
}

/** Every entry of a .tgz as node-tar's reader sees it. */
async function entriesOf(file: string): Promise<EntrySummary[]> {
  const entries: EntrySummary[] = [];
  const reads: Promise<void>[] = [];
  await listTar({
    file,
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      reads.push(
        new Promise((resolve) =>
          entry.on('end', () => {
            entries.push({
              path: entry.path,
              type: entry.type,
              mode: entry.mode,
              size: entry.size,
              mtime: entry.mtime ? Math.floor(entry.mtime.getTime() / 1000) : undefined,
              uid: entry.uid,
              content: Buffer.concat(chunks).toString('latin1'),
            });
            resolve();
          }),
        ),
      );
    },
  });
  await Promise.all(reads);
  return entries.sort((a, b) => a.path.localeCompare(b.path));
}

/** An output dir with the given files (name → content), modes and an old mtime. */
function outputDir(name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(root, name, 'output');
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    const full = path.join(dir, file);
    fs.writeFileSync(full, content);
    fs.chmodSync(full, file.endsWith('.sh') ? 0o755 : 0o640);
    fs.utimesSync(full, new Date('2024-05-06T07:08:09Z'), new Date('2024-05-06T07:08:09Z'));
  }
  return dir;
}

/** node-tar's archive of the same files, as archiveJobOutputs made them before. */
async function nodeTarArchive(jobId: string, dir: string, files: string[]): Promise<string> {
  const file = path.join(root, `${jobId}-node-tar.tgz`);
  await createTar({ gzip: true, file, cwd: dir, prefix: jobId, portable: true }, files);
  return file;
}

describe('the in-memory archive of small outputs', () => {
  it('has the same entries as node-tar writes, and the system tar extracts it', async () => {
    const jobId = newJobId();
    const dir = outputDir('same', {
      stdout: '4\n',
      stderr: '',
      'result.dat': randomBytes(1500),
      'run.sh': '#!/bin/sh\necho 4\n',
      'exactly-512': 'x'.repeat(512),
    });
    const done = path.join(root, 'same-done');
    const archived = await archiveJobOutputs(jobId, dir, done);
    expect(archived.files).toEqual(['exactly-512', 'result.dat', 'run.sh', 'stderr', 'stdout']);
    expect(archived.missing).toEqual([]);
    const reference = await nodeTarArchive(jobId, dir, archived.files);
    const ours = await entriesOf(archived.archive);
    expect(ours).toEqual(await entriesOf(reference));
    expect(ours.map((entry) => [entry.path, entry.mode, entry.uid])).toContainEqual([
      `${jobId}/run.sh`,
      0o755,
      undefined,
    ]);

    const into = path.join(root, 'same-extracted');
    fs.mkdirSync(into);
    await promisify(execFile)('tar', ['xzf', archived.archive], { cwd: into });
    expect(fs.readFileSync(path.join(into, jobId, 'stdout'), 'utf8')).toBe('4\n');
    expect(fs.readFileSync(path.join(into, jobId, 'result.dat'))).toEqual(
      fs.readFileSync(path.join(dir, 'result.dat')),
    );
    expect(fs.readdirSync(path.join(done, jobId)).sort()).toEqual([
      `${jobId}.tgz`,
      'stderr',
      'stdout',
    ]);
  });

  it('puts a path longer than 100 characters in the ustar prefix, as node-tar reads it', async () => {
    const jobId = `j${'x'.repeat(90)}`;
    const name = `long-${'n'.repeat(60)}.txt`;
    const dir = outputDir('long', { stdout: 'a\n', stderr: 'b\n', [name]: 'c\n' });
    const archived = await archiveJobOutputs(jobId, dir, path.join(root, 'long-done'));
    const entries = await entriesOf(archived.archive);
    expect(entries.map((entry) => entry.path)).toContain(`${jobId}/${name}`);
    expect(entries).toEqual(
      await entriesOf(await nodeTarArchive(jobId, dir, ['stderr', 'stdout', name])),
    );
  });

  it('leaves a name ustar cannot hold, and outputs over the limit, to node-tar', async () => {
    const jobId = newJobId();
    const longName = 'n'.repeat(120);
    const dir = outputDir('fallback', { stdout: '1\n', stderr: '', [longName]: 'x' });
    expect(tarInMemory(jobId, dir, ['stderr', 'stdout', longName])).toBeUndefined();
    const archived = await archiveJobOutputs(jobId, dir, path.join(root, 'fallback-done'));
    expect((await entriesOf(archived.archive)).map((entry) => entry.path)).toContain(
      `${jobId}/${longName}`,
    );

    const big = outputDir('big', {
      stdout: 'y'.repeat(SMALL_OUTPUTS_MAX_BYTES),
      stderr: 'z',
    });
    expect(tarInMemory(jobId, big, ['stderr', 'stdout'])).toBeUndefined();
    expect(tarInMemory(jobId, big, ['stdout'])).toBeInstanceOf(Buffer);
    const bigArchive = await archiveJobOutputs(jobId, big, path.join(root, 'big-done'));
    const entries = await entriesOf(bigArchive.archive);
    expect(entries.map((entry) => [entry.path, entry.size])).toEqual([
      [`${jobId}/stderr`, 1],
      [`${jobId}/stdout`, SMALL_OUTPUTS_MAX_BYTES],
    ]);
  });

  it('keeps the done stdout when archived again, and takes a replaced output', async () => {
    const jobId = newJobId();
    const dir = outputDir('again', { stdout: '4\n', stderr: 'warning\n' });
    const done = path.join(root, 'again-done');
    const doneStdout = path.join(done, jobId, 'stdout');
    await archiveJobOutputs(jobId, dir, done);
    // Archived again (a resent jobDone), twice at once: the done files are not emptied.
    await Promise.all([archiveJobOutputs(jobId, dir, done), archiveJobOutputs(jobId, dir, done)]);
    expect(fs.readFileSync(doneStdout, 'utf8')).toBe('4\n');
    expect(fs.readFileSync(path.join(done, jobId, 'stderr'), 'utf8')).toBe('warning\n');
    // An upload replaces the output with a new file (a temp renamed into place).
    const replacement = path.join(dir, '.upload-new');
    fs.writeFileSync(replacement, '5\n');
    fs.renameSync(replacement, path.join(dir, 'stdout'));
    await archiveJobOutputs(jobId, dir, done);
    expect(fs.readFileSync(doneStdout, 'utf8')).toBe('5\n');
    const entries = await entriesOf(path.join(done, jobId, `${jobId}.tgz`));
    expect(entries.find((entry) => entry.path === `${jobId}/stdout`)?.content).toBe('5\n');
  });

  it('archives empty stdout and stderr for an agent that uploaded nothing, dir made', async () => {
    const jobId = newJobId();
    const dir = path.join(root, 'nothing', 'output');
    const archived = await archiveJobOutputs(jobId, dir, path.join(root, 'nothing-done'));
    expect(archived.missing).toEqual(['stdout', 'stderr']);
    expect((await entriesOf(archived.archive)).map((entry) => [entry.path, entry.size])).toEqual([
      [`${jobId}/stderr`, 0],
      [`${jobId}/stdout`, 0],
    ]);
  });
});
