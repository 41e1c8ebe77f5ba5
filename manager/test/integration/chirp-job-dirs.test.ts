// The manager's Chirp job directories against a real chirp_server (listing 4.1): what an agent,
// authenticated by address as both the original agent and ours are, may and may not do there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChirpError, openChirp, type ChirpClient } from '@copilot/storage';
import { silentLogger } from '@copilot/base/logger';
import { startChirp, type ChirpServer } from '@test/harness';
import { ChirpJobDirs } from '@manager/job-manager/chirp-job-dirs';
import type { JobRecord } from '@manager/job-manager/job-record';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';
import { submitJob } from '@manager/job-manager/job-submission';
import type { ChirpStorageConfig } from '@manager/job-manager/manager-config';

let chirp: ChirpServer;
let root: string;
let queue: SqliteJobQueue;
let paths: JobStorePaths;
const clients: ChirpClient[] = [];

beforeAll(async () => {
  chirp = await startChirp();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'chirp-job-dirs-'));
  queue = new SqliteJobQueue(path.join(root, 'queue.sqlite'));
  paths = new JobStorePaths(path.join(root, 'storage'));
});

afterAll(async () => {
  for (const client of clients) client.close();
  await queue?.close();
  await chirp?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

function dirs(overrides: Partial<ChirpStorageConfig> = {}): ChirpJobDirs {
  return new ChirpJobDirs({
    config: { server: chirp.address, workDir: chirp.rootDir, originalAgents: false, ...overrides },
    paths,
    logger: silentLogger,
    maxUploadBytes: 1024 * 1024,
    maxJobBytes: 2 * 1024 * 1024,
  });
}

/** A job leased with a fresh input token, as getJob leaves it. */
async function leasedJob(token: string): Promise<JobRecord> {
  const source = path.join(root, 'calculator.sh');
  fs.writeFileSync(source, '#!/bin/bash\necho "2+2" | bc\n');
  const job = await submitJob(queue, paths, { commandFile: source });
  const leased = await queue.transition(
    job.id,
    { from: ['queued'] },
    { state: 'leased', inputToken: token, outputToken: `${token}-out`, leaseId: 'lease-1' },
  );
  if (!leased.ok) throw new Error('lease failed');
  return leased.job;
}

async function asAgent(): Promise<ChirpClient> {
  const client = await openChirp(chirp.host, chirp.port, { auth: ['address'], timeoutMs: 10_000 });
  clients.push(client);
  return client;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ChirpError);
  return (error as ChirpError).code;
}

describe('ChirpJobDirs on a real chirp_server', () => {
  it('gives the lease holder readable inputs and a write-only output dir, and nothing else', async () => {
    const jobDirs = dirs();
    await jobDirs.checkRoot();
    const job = await leasedJob('token-a');
    await jobDirs.prepareLease(job);
    const storage = jobDirs.storageFor(job);
    expect(storage.chirpUrl).toBe(chirp.address);
    expect(storage.inputDir).toMatch(new RegExp(`^/${job.id}\\.[A-Za-z0-9_-]{32}/input$`));
    expect(storage.outputDir).toBe(storage.inputDir.replace(/input$/, 'output'));

    const agent = await asAgent();
    expect(await agent.whoami()).toBe('address:127.0.0.1');
    const local = path.join(root, 'fetched.sh');
    await agent.getFile(`${storage.inputDir}/calculator.sh`, local, 10_000);
    expect(fs.readFileSync(local, 'utf8')).toContain('bc');
    const stdout = path.join(root, 'stdout');
    fs.writeFileSync(stdout, '4\n');
    await agent.putFile(stdout, `${storage.outputDir}/stdout`);

    // Only the inputs may be listed (chirp_get stats a file first, which takes `l`): the lease
    // dirs' names stay secret. No reading outputs, no writing inputs.
    const listed = await agent.listDir(storage.inputDir);
    expect(listed.map((entry) => entry.name).filter((name) => !name.startsWith('.'))).toEqual([
      'calculator.sh',
    ]);
    const parent = path.posix.dirname(storage.inputDir);
    for (const dir of ['/', parent, storage.outputDir]) {
      expect(await refusal(agent.listDir(dir))).toBe('EACCES');
    }
    expect(await refusal(agent.getFile(`${storage.outputDir}/stdout`, local, 100))).toBe('EACCES');
    expect(await refusal(agent.putFile(stdout, `${storage.inputDir}/calculator.sh`))).toBe(
      'EACCES',
    );
    expect(await refusal(agent.putFile(stdout, `${parent}/x`))).toBe('EACCES');
    expect(await refusal(agent.setAcl(storage.outputDir, 'address:*', 'rwlda'))).toBe('EACCES');

    // jobDone: the output dir is closed, its files copied out.
    const into = path.join(root, 'collected');
    expect(await jobDirs.collectOutputs(job, into)).toEqual([]);
    expect(fs.readFileSync(path.join(into, 'stdout'), 'utf8')).toBe('4\n');
    expect(await refusal(agent.putFile(stdout, `${storage.outputDir}/late`))).toBe('EACCES');
    await jobDirs.release(job);
    expect(fs.existsSync(path.join(chirp.rootDir, parent))).toBe(false);
  });

  it('takes only plain files within the caps, never through a symlink', async () => {
    const jobDirs = dirs();
    const job = await leasedJob('token-b');
    await jobDirs.prepareLease(job);
    const outputOnDisk = path.join(chirp.rootDir, jobDirs.storageFor(job).outputDir);
    fs.writeFileSync(path.join(outputOnDisk, 'stdout'), 'ok\n');
    fs.writeFileSync(path.join(outputOnDisk, 'huge.bin'), Buffer.alloc(1024 * 1024 + 1));
    fs.symlinkSync('/etc/passwd', path.join(outputOnDisk, 'passwd'));
    fs.mkdirSync(path.join(outputOnDisk, 'sub'));
    const into = path.join(root, 'collected-b');
    const notes = await jobDirs.collectOutputs(job, into);
    expect(notes).toEqual(['outputs left out: huge.bin, passwd, sub']);
    expect(fs.readdirSync(into)).toEqual(['stdout']);
    await jobDirs.release(job);
  });

  it('sweeps the dirs of leases that ended, and keeps those of live leases and of others', async () => {
    const jobDirs = dirs();
    const live = await leasedJob('token-live');
    const gone = await leasedJob('token-old');
    await jobDirs.prepareLease(live);
    await jobDirs.prepareLease(gone);
    const goneDir = jobDirs.leaseDirName(gone);
    await queue.transition(gone.id, { from: ['leased'] }, { state: 'cancelled' });
    fs.mkdirSync(path.join(chirp.rootDir, 'not-a-job-dir'));
    expect(await jobDirs.sweep(queue)).toBe(1);
    const left = fs.readdirSync(chirp.rootDir);
    expect(left).toContain(jobDirs.leaseDirName(live));
    expect(left).toContain('not-a-job-dir');
    expect(left).not.toContain(goneDir);
  });

  it('with JM_CHIRP_ORIGINAL_AGENTS, takes output at /<jobId>, where the original agent puts it', async () => {
    const jobDirs = dirs({ originalAgents: true });
    const job = await leasedJob('token-c');
    await jobDirs.prepareLease(job);
    expect(jobDirs.storageFor(job).outputDir).toBe(`/${job.id}`);
    expect(await jobDirs.prepareOutput(job)).toEqual({
      outputChirpUrl: chirp.address,
      outputDir: `/${job.id}`,
    });
    const agent = await asAgent();
    const bundle = path.join(root, `${job.id}.tgz`);
    fs.writeFileSync(bundle, 'bundle');
    // Agent.pm: chirp_put -a address <file> <server> <jobID>/<jobID>.tgz
    await agent.putFile(bundle, `/${job.id}/${job.id}.tgz`);
    expect(await refusal(agent.listDir(`/${job.id}`))).toBe('EACCES');
    const into = path.join(root, 'collected-c');
    await jobDirs.collectOutputs(job, into);
    expect(fs.readdirSync(into)).toEqual([`${job.id}.tgz`]);
    await jobDirs.release(job);
    expect(fs.existsSync(path.join(chirp.rootDir, job.id))).toBe(false);
  });
});
