/**
 * The full job cycle against a real Prosody: copilot-job-submit, the manager, a protocol-speaking
 * test agent, HTTP storage, the done-job archive and monitor events.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestXmppServer, type XmppServer } from '@test/harness';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { submitJob } from '@manager/job-manager/job-submission';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';
import {
  eventually,
  extractDoneArchive,
  managerConfig,
  MonitorListener,
  PASSWORD,
  REPO_CALCULATOR,
  tempDir,
} from './manager-fixture';
import { TestAgent } from './test-agent';

const USERS = ['jm', 'mon', 'agent1', 'agent2'];
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

let prosody: XmppServer;
let monitor: MonitorListener;
const running: Array<{ stop(): Promise<void> }> = [];

function track<T extends { stop(): Promise<void> }>(thing: T): T {
  running.push(thing);
  return thing;
}

async function agent(name: string, memory?: number): Promise<TestAgent> {
  const created = new TestAgent({
    service: prosody.service,
    domain: prosody.domain,
    username: name,
    password: PASSWORD,
    memory,
  });
  await created.start();
  return track(created);
}

async function manager(
  stateDir: string,
  extra: Record<string, string> = {},
): Promise<RunningJobManager> {
  const config = managerConfig(prosody, 'jm', stateDir, {
    MON_JABBER_ADDRESS: prosody.jid('mon') + '/mon',
    ...extra,
  });
  return track(await startJobManager(config));
}

beforeAll(async () => {
  prosody = await startTestXmppServer({
    users: USERS.map((username) => ({ username, password: PASSWORD })),
  });
  monitor = new MonitorListener(prosody, 'mon');
  await monitor.session.start();
});

afterEach(async () => {
  for (const thing of running.splice(0).reverse()) await thing.stop();
  monitor.messages.length = 0;
});

afterAll(async () => {
  await monitor?.session.stop();
  await prosody?.stop();
});

describe('Generic Job and Storage Manager, full job cycle', () => {
  it('runs calculator.sh submitted with copilot-job-submit --wait and leaves 4 in the done dir', async () => {
    const stateDir = tempDir('jm-cycle-');
    const jm = await manager(stateDir);
    // copilot-job-submit as a real process, waiting for the job.
    const submit = promisify(execFile)(
      path.join(REPO_ROOT, 'node_modules/.bin/tsx'),
      [
        path.join(REPO_ROOT, 'manager/bin/copilot-job-submit.ts'),
        `--command=${REPO_CALCULATOR}`,
        '--wait',
        '--timeout',
        '60',
        `--JM_STATE_DIR=${stateDir}`,
      ],
      { cwd: REPO_ROOT, timeout: 90_000 },
    );
    // Wait until the job is in the queue, then let the agent take it.
    await eventually(
      async () => ((await jm.queue.countQueued()) > 0 ? true : undefined),
      'job queued',
      30_000,
    );
    const worker = await agent('agent1');
    const { runJob, result } = await worker.runOneJob(jm.jid);
    expect(result).toMatchObject({ stdout: '4\n', exitCode: 0 });

    const job = runJob.command.job;
    expect(job.command).toBe('calculator.sh');
    expect(job.inputFiles).toBe('calculator.sh');
    expect(job.chirpUrl).toBe(jm.storageUrl);
    expect(job.inputDir).toMatch(new RegExp(`^/storage/input/${job.id}/[A-Za-z0-9_-]{43}$`));
    expect(job.outputDir).toMatch(new RegExp(`^/storage/output/${job.id}/[A-Za-z0-9_-]{43}$`));
    expect(runJob.command.jmJobData).toMatch(/^lease=/);

    const { stdout } = await submit;
    expect(stdout.split('\n')).toEqual([job.id, 'state done', 'exitCode 0', '4', '']);

    const done = path.join(stateDir, 'done');
    expect(fs.readFileSync(path.join(done, job.id, 'stdout'), 'utf8')).toBe('4\n');
    const listing = await extractDoneArchive(done, job.id);
    expect(listing.split('\n').filter(Boolean).sort()).toEqual([
      `${job.id}/stderr`,
      `${job.id}/stdout`,
    ]);
    expect(fs.readFileSync(path.join(done, job.id, job.id, 'stdout'), 'utf8')).toBe('4\n');
    expect(await jm.queue.get(job.id)).toMatchObject({
      state: 'done',
      exitCode: 0,
      agentState: 'done',
    });

    await monitor.waitForEvent('job.succeeded');
    expect(monitor.values('queuedJobs').length).toBeGreaterThan(0);
    // The job was handed out right after getJob: the dashboard's "Running jobs" sees it.
    expect(monitor.values('runningJobs')).toContain(1);
    expect(monitor.messages.every((message) => message.noack)).toBe(true);
    const first = monitor.messages[0]?.command;
    expect(first && 'component' in first ? first.component : '').toBe('jobmanager.generic.jm');
  });

  it('archives extra outputs, records a failed exit code and ignores a repeated jobDone', async () => {
    const stateDir = tempDir('jm-fail-');
    const jm = await manager(stateDir);
    const paths = new JobStorePaths(jm.config.storageDir);
    await submitJob(jm.queue, paths, { commandFile: REPO_CALCULATOR });
    const worker = await agent('agent1');
    const runJob = await worker.fetchJob(jm.jid);
    await worker.uploadOutputs(runJob.from, runJob.command, {
      stdout: 'partial\n',
      stderr: 'boom\n',
      'result.dat': 'x',
    });
    await worker.jobDone(runJob.from, runJob.command, 3, 'failed');
    const id = runJob.command.job.id;
    const finished = await eventually(async () => {
      const job = await jm.queue.get(id);
      return job?.state === 'failed' ? job : undefined;
    }, 'job failed');
    expect(finished).toMatchObject({ exitCode: 3, agentState: 'failed' });
    await monitor.waitForEvent('job.failed');

    // The same jobDone again (a new message, as after an agent restart): nothing changes.
    const archive = path.join(stateDir, 'done', id, `${id}.tgz`);
    const before = fs.statSync(archive).mtimeMs;
    await worker.jobDone(runJob.from, runJob.command, 0, 'done');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await jm.queue.get(id)).toMatchObject({
      state: 'failed',
      exitCode: 3,
      finishedAt: finished.finishedAt,
    });
    expect(fs.statSync(archive).mtimeMs).toBe(before);
    expect(monitor.events().filter((event) => event.startsWith('job.'))).toEqual(['job.failed']);

    const listing = await extractDoneArchive(path.join(stateDir, 'done'), id);
    expect(listing.split('\n').filter(Boolean).sort()).toEqual([
      `${id}/result.dat`,
      `${id}/stderr`,
      `${id}/stdout`,
    ]);
    expect(fs.readFileSync(path.join(stateDir, 'done', id, 'stderr'), 'utf8')).toBe('boom\n');
  });

  it('offers a job only to agents whose JDL matches its requirements, and sends requireFile', async () => {
    const stateDir = tempDir('jm-match-');
    const jm = await manager(stateDir, { JM_JOB_REQUIRE_FILE: '/cvmfs/sft.cern.ch/setup.sh' });
    await submitJob(jm.queue, new JobStorePaths(jm.config.storageDir), {
      commandFile: REPO_CALCULATOR,
      requirements: 'other.Memory >= 4096 && other.Platform == "Linux-x86_64"',
    });
    const small = await agent('agent1', 1010);
    await small.send(jm.jid, { command: 'want_getJob', agentHost: 'small', jdl: small.jdl });
    await small.send(jm.jid, { command: 'getJob', agentHost: 'small', jdl: small.jdl });
    expect(await small.receives('have_getJob', 1500)).toBe(false);
    expect(await small.receives('runJob', 100)).toBe(false);
    await monitor.waitForEvent('error.emptyQueue');
    expect(await jm.queue.countQueued()).toBe(1);

    const big = await agent('agent2', 8192);
    await big.send(jm.jid, { command: 'want_getJob', agentHost: 'big', jdl: big.jdl });
    const have = await big.waitFor('have_getJob');
    expect(have.command.requireFile).toBe('/cvmfs/sft.cern.ch/setup.sh');
    await big.send(have.from, { command: 'getJob', agentHost: 'big', jdl: big.jdl });
    const runJob = await big.waitFor('runJob');
    expect(runJob.command.job.command).toBe('calculator.sh');
  });

  it('logs and reports requests for invalid or unknown job ids without crashing', async () => {
    const stateDir = tempDir('jm-invalid-');
    const jm = await manager(stateDir);
    const worker = await agent('agent1');
    for (const jobID of ['../../etc/passwd', 'a;rm -rf', 'no-such-job']) {
      await worker.send(jm.jid, { command: 'want_getJobOutputDir', agentHost: 'a', jobID });
      await worker.send(jm.jid, {
        command: 'jobDone',
        agentHost: 'a',
        jobID,
        exitCode: 0,
        state: 'done',
      });
    }
    await eventually(
      async () =>
        monitor.events().filter((e) => e === 'error.invalidJobId').length >= 6 ? true : undefined,
      'six error.invalidJobId events',
    );
    expect(await worker.receives('have_getJobOutputDir', 300)).toBe(false);
    // Still serving.
    await submitJob(jm.queue, new JobStorePaths(jm.config.storageDir), {
      commandFile: REPO_CALCULATOR,
    });
    const { result } = await worker.runOneJob(jm.jid);
    expect(result.stdout).toBe('4\n');
  });

  it('puts a job back in the queue when its lease expires and refuses the old agent afterwards', async () => {
    const stateDir = tempDir('jm-lease-');
    const jm = await manager(stateDir, { JM_LEASE_SECONDS: '1' });
    await submitJob(jm.queue, new JobStorePaths(jm.config.storageDir), {
      commandFile: REPO_CALCULATOR,
    });
    const slow = await agent('agent1');
    const first = await slow.fetchJob(jm.jid);
    const id = first.command.job.id;
    expect((await jm.queue.get(id))?.state).toBe('leased');
    const requeued = await eventually(
      async () => {
        const job = await jm.queue.get(id);
        return job?.state === 'queued' ? job : undefined;
      },
      'lease expiry',
      10_000,
    );
    expect(requeued.attempts).toBe(1);
    expect(requeued.note).toMatch(/expired/);

    // The old input URL no longer works; a second agent gets the job with new tokens.
    const oldInput = `${first.command.job.chirpUrl}${first.command.job.inputDir}/calculator.sh`;
    expect((await fetch(oldInput)).status).toBe(403);
    const fast = await agent('agent2');
    const { runJob, result } = await fast.runOneJob(jm.jid);
    expect(runJob.command.job.id).toBe(id);
    expect(runJob.command.job.inputDir).not.toBe(first.command.job.inputDir);
    expect(result.stdout).toBe('4\n');
    const done = await eventually(async () => {
      const job = await jm.queue.get(id);
      return job?.state === 'done' ? job : undefined;
    }, 'job done');
    expect(done.attempts).toBe(2);

    // The first agent finally reports: ignored, the job stays done.
    await slow.jobDone(first.from, first.command, 9, 'failed');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await jm.queue.get(id)).toMatchObject({ state: 'done', exitCode: 0 });
  });

  it('loses nothing when the manager restarts mid-cycle, and a resent getJob gets the same job', async () => {
    const stateDir = tempDir('jm-restart-');
    const first = await manager(stateDir, { JM_STORAGE_PORT: '0' });
    await submitJob(first.queue, new JobStorePaths(first.config.storageDir), {
      commandFile: REPO_CALCULATOR,
    });
    await submitJob(first.queue, new JobStorePaths(first.config.storageDir), {
      commandFile: REPO_CALCULATOR,
    });
    const worker = await agent('agent1');
    await worker.send(first.jid, { command: 'want_getJob', agentHost: 'a', jdl: worker.jdl });
    await worker.waitFor('have_getJob');
    const getJobId = 'getjob-fixed-id-1';
    await worker.send(first.jid, { command: 'getJob', agentHost: 'a', jdl: worker.jdl }, getJobId);
    const runJob = await worker.waitFor('runJob');
    const result = await worker.runJob(runJob.command);

    // Crash-like stop, then a new manager process on the same state dir.
    await first.stop();
    const second = await manager(stateDir);
    expect(second.jid).toBe(first.jid);
    expect((await second.queue.get(runJob.command.job.id))?.state).toBe('running');

    // The agent resends its getJob with the same message id: the same job, the same lease.
    await worker.send(second.jid, { command: 'getJob', agentHost: 'a', jdl: worker.jdl }, getJobId);
    const again = await worker.waitFor('runJob');
    expect(again.command.job.id).toBe(runJob.command.job.id);
    expect(again.command.jmJobData).toBe(runJob.command.jmJobData);
    expect(again.command.job.inputDir).toBe(runJob.command.job.inputDir);
    expect(await second.queue.countQueued()).toBe(1);

    // Input URLs now point at the new storage server; the cycle finishes there.
    await worker.uploadOutputs(second.jid, again.command, {
      stdout: result.stdout,
      stderr: result.stderr,
    });
    await worker.jobDone(second.jid, again.command, result.exitCode);
    const id = runJob.command.job.id;
    await eventually(
      async () => ((await second.queue.get(id))?.state === 'done' ? true : undefined),
      'job done',
    );
    expect(fs.readFileSync(path.join(stateDir, 'done', id, 'stdout'), 'utf8')).toBe('4\n');

    // The store itself, opened directly, agrees.
    const store = new SqliteJobQueue(second.config.queueDb);
    try {
      expect((await store.get(id))?.state).toBe('done');
      expect(await store.countQueued()).toBe(1);
    } finally {
      await store.close();
    }
  });
});
