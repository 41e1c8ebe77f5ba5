/**
 * A manager killed while archiving or while an upload streams leaves temp files; the next start
 * removes them (issue #11), and nothing else.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newJobId } from '@manager/job-manager/job-record';
import { archiveJobOutputs, removePartialArchives } from '@manager/job-manager/job-archive';
import { StorageServer } from '@manager/job-manager/storage-server';
import { StorageFixture } from '@manager/test/support/storage-fixture';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const fixture = new StorageFixture();

afterAll(async () => {
  await fixture.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Archives `outputDir` in a child process and SIGKILLs it once the archive temp exists. */
async function killWhileArchiving(jobId: string, outputDir: string, doneDir: string) {
  const archiver = path.join(REPO_ROOT, 'manager/job-manager/job-archive.ts');
  const code = `const { archiveJobOutputs } = await import(${JSON.stringify(archiver)});
    await archiveJobOutputs(${JSON.stringify(jobId)}, ${JSON.stringify(outputDir)}, ${JSON.stringify(doneDir)});`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  const jobDoneDir = path.join(doneDir, jobId);
  const partials = () =>
    fs.existsSync(jobDoneDir)
      ? fs.readdirSync(jobDoneDir).filter((n) => n.endsWith('.partial'))
      : [];
  const deadline = Date.now() + 30_000;
  while (partials().length === 0 && child.exitCode === null && Date.now() < deadline) {
    await sleep(5);
  }
  child.kill('SIGKILL');
  return { signal: await exited, partials: partials() };
}

describe('leftovers of a killed manager', () => {
  it('removes the .partial archive a SIGKILL during archiving left, and keeps the rest', async () => {
    const jobId = newJobId();
    const outputDir = path.join(fixture.root, 'killed', 'output');
    const doneDir = path.join(fixture.root, 'done');
    fs.mkdirSync(outputDir, { recursive: true });
    // Random bytes do not compress: archiving them takes long enough to be killed mid-way.
    fs.writeFileSync(path.join(outputDir, 'big.dat'), randomBytes(32 * 1024 * 1024));
    const killed = await killWhileArchiving(jobId, outputDir, doneDir);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.partials).toHaveLength(1);

    const other = newJobId();
    await archiveJobOutputs(other, path.join(fixture.root, 'other'), doneDir);
    const keep = path.join(doneDir, other, `.${other}.tgz.notes`);
    fs.writeFileSync(keep, 'not a temp of ours');

    expect(await removePartialArchives(doneDir)).toBe(1);
    expect(fs.readdirSync(path.join(doneDir, jobId))).toEqual([]);
    expect(fs.readdirSync(path.join(doneDir, other)).sort()).toEqual([
      `.${other}.tgz.notes`,
      `${other}.tgz`,
      'stderr',
      'stdout',
    ]);
    expect(await removePartialArchives(path.join(fixture.root, 'no-such-dir'))).toBe(0);
  }, 60_000);

  it('removes upload temps from the output dirs when the storage server starts', async () => {
    const job = await fixture.leasedJob();
    const outputDir = fixture.paths.dir(job.id, 'output');
    fs.mkdirSync(outputDir, { recursive: true });
    fs.writeFileSync(path.join(outputDir, 'stdout'), '4\n');
    fs.writeFileSync(path.join(outputDir, '.upload-0123456789abcdef'), 'half an upload');
    fs.writeFileSync(path.join(fixture.paths.dir(job.id, 'input'), '.upload-kept'), 'input');

    const inputsOnly = new StorageServer(fixture.options({ acceptOutput: false }));
    await inputsOnly.start();
    await inputsOnly.stop();
    // A manager that does not take outputs leaves them to the one that does.
    expect(fixture.leftoverTemps()).toEqual([`${job.id}/.upload-0123456789abcdef`]);

    const server = new StorageServer(fixture.options());
    await server.start();
    await server.stop();
    expect(fixture.leftoverTemps()).toEqual([]);
    expect(fixture.outputFiles(job.id)).toEqual(['stdout']);
    expect(fs.readdirSync(fixture.paths.dir(job.id, 'input')).sort()).toEqual([
      '.upload-kept',
      'calculator.sh',
    ]);
  });
});
