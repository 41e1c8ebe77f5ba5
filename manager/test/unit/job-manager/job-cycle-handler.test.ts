import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Command, CommandMessage } from '@copilot/protocol';
import { MonitorReporter, monitorComponent, noackChannel } from '@copilot/transport';
import { silentLogger } from '@copilot/base/logger';
import { JobCycleHandler, type JobCycleOptions } from '@manager/job-manager/job-cycle-handler';
import { BannedAccounts, RequestCooldown } from '@manager/job-manager/request-limits';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { cancelJob, requeueJob, submitJob } from '@manager/job-manager/job-submission';
import type { ManagerRole } from '@manager/job-manager/manager-config';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';

const AGENT = 'agent@localhost/a1';
const JDL = '[ Memory = 1010; Platform = "Linux-x86_64" ]';

let root: string;
let queue: SqliteJobQueue;
let paths: JobStorePaths;
let sent: Array<{ to: string; command: Command }>;
let notified: Array<{ to: string; command: Command }>;
let events: Command[];
let calculator: string;

function handler(
  role: ManagerRole = 'all',
  storageManagerAddress?: string,
  limits: Pick<JobCycleOptions, 'cooldown' | 'banned' | 'maxLeasesPerAgent' | 'maxAttempts'> = {},
): JobCycleHandler {
  const monitor = new MonitorReporter(
    noackChannel(
      {
        send: (_to, command) => {
          events.push(command);
          return Promise.resolve('id');
        },
      },
      silentLogger,
    ),
    'mon@localhost',
    monitorComponent('jobManager', 'jm1'),
  );
  return new JobCycleHandler({
    queue,
    paths,
    monitor,
    logger: silentLogger,
    role,
    doneJobDir: path.join(root, 'done'),
    leaseMs: 60_000,
    storageManagerAddress,
    storageBaseUrl: () => 'http://jm.example:8088',
    reply: (to, command) => {
      sent.push({ to, command });
      return Promise.resolve();
    },
    notify: (to, command) => {
      notified.push({ to, command });
    },
    ...limits,
  });
}

let counter = 0;
function message(command: Command, from = AGENT, id?: string): CommandMessage {
  counter += 1;
  return {
    kind: 'command',
    to: 'jm@localhost/jm1',
    from,
    id: id ?? `m${counter}`,
    noack: false,
    command,
  };
}

function eventNames(): string[] {
  return events.flatMap((event) => (event.command === 'reportEvent' ? [event.event] : []));
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-handler-'));
  queue = new SqliteJobQueue(path.join(root, 'queue.sqlite'));
  paths = new JobStorePaths(path.join(root, 'storage'));
  sent = [];
  notified = [];
  events = [];
  calculator = path.join(root, 'calculator.sh');
  fs.writeFileSync(calculator, '#!/bin/bash\necho "2+2" | bc\n');
});

afterEach(async () => {
  await queue.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('job cycle handler', () => {
  it('answers want_getJob only when a job is queued, and reports an empty queue', async () => {
    const jm = handler();
    await jm.handle(message({ command: 'want_getJob', agentHost: 'h', jdl: JDL }));
    expect(sent).toEqual([]);
    expect(eventNames()).toEqual(['error.emptyQueue']);
    await submitJob(queue, paths, { commandFile: calculator });
    await jm.handle(message({ command: 'want_getJob', agentHost: 'h', jdl: JDL }));
    expect(sent).toEqual([{ to: AGENT, command: { command: 'have_getJob' } }]);
  });

  it("honours the agent's own Requirements (listing 2.4) as well as the job's", async () => {
    await submitJob(queue, paths, {
      commandFile: calculator,
      requirements: 'other.Memory >= 1000',
    });
    const jm = handler();
    const wants = (jdl: string) =>
      jm.handle(message({ command: 'want_getJob', agentHost: 'h', jdl }));
    await wants('[ Requirements = ( other.Type == "Batch" ); Memory = 4096 ]');
    await wants('[ Requirements = ( other.Type == "Job" ); Memory = 512 ]');
    await wants('not a JDL at all');
    expect(sent).toEqual([]);
    await wants('[ Requirements = ( other.Type == "Job" ); Memory = 4096 ]');
    expect(sent).toHaveLength(1);
  });

  it('finds a matching job behind many that this agent cannot run', async () => {
    for (let index = 0; index < 20; index += 1) {
      await submitJob(queue, paths, {
        commandFile: calculator,
        requirements: 'other.Memory > 99999',
      });
    }
    const runnable = await submitJob(queue, paths, { commandFile: calculator });
    const jm = handler();
    await jm.handle(message({ command: 'want_getJob', agentHost: 'h', jdl: JDL }));
    expect(sent).toEqual([{ to: AGENT, command: { command: 'have_getJob' } }]);
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    const reply = sent[1]?.command;
    expect(reply?.command === 'runJob' && reply.job.id).toBe(runnable.id);
    expect(await queue.countQueued()).toBe(20);
  });

  it('reads only the first queued job when it matches, and the head when one of it does', async () => {
    for (let index = 0; index < 3; index += 1) {
      await submitJob(queue, paths, {
        commandFile: calculator,
        requirements: index === 0 ? undefined : 'other.Memory > 99999',
      });
    }
    for (let index = 0; index < 20; index += 1)
      await submitJob(queue, paths, { commandFile: calculator });
    const jm = handler();
    const queued = vi.spyOn(queue, 'queued');
    await jm.handle(message({ command: 'want_getJob', agentHost: 'h', jdl: JDL }));
    expect(queued.mock.calls).toEqual([[1]]);
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    expect(queued.mock.calls).toEqual([[1], [1]]);
    // The next two queued jobs need more memory: the head is read, not the long scan.
    queued.mockClear();
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    expect(queued.mock.calls).toEqual([[1], [16]]);
    expect(sent.map((reply) => reply.command.command)).toEqual(['have_getJob', 'runJob', 'runJob']);
  });

  it('sends every runJob attribute and the same job for a repeated getJob', async () => {
    await expect(
      submitJob(queue, paths, { commandFile: calculator, validationFile: calculator }),
    ).rejects.toThrow(/two input files are called calculator.sh/);
    const validator = path.join(root, 'check.sh');
    fs.writeFileSync(validator, 'exit 0\n');
    const submitted = await submitJob(queue, paths, {
      commandFile: calculator,
      arguments: '1 2',
      environment: { A: 'b' },
      packages: ['bc'],
      validationFile: validator,
    });
    await submitJob(queue, paths, { commandFile: calculator });
    const jm = handler();
    const request = message({ command: 'getJob', agentHost: 'h', jdl: JDL }, AGENT, 'get-1');
    await jm.handle(request);
    await jm.handle({ ...request });
    expect(sent).toHaveLength(2);
    const [first, second] = sent.map((reply) => reply.command);
    expect(second).toEqual(first);
    if (first?.command !== 'runJob') throw new Error('expected runJob');
    expect(first.job).toMatchObject({
      id: submitted.id,
      command: 'calculator.sh',
      arguments: '1 2',
      environment: 'A=b',
      packages: 'bc',
      inputFiles: 'calculator.sh check.sh',
      chirpUrl: 'http://jm.example:8088',
      validation: 'check.sh',
    });
    expect(first.job.inputDir).toMatch(/^\/storage\/input\//);
    expect(first.job.outputDir).toMatch(/^\/storage\/output\//);
    expect(first.jmJobData).toMatch(/^lease=/);
    expect(await queue.countQueued()).toBe(1);
    // A new getJob (new message id) gets the next job.
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    const third = sent[2]?.command;
    expect(third?.command === 'runJob' && third.job.id).not.toBe(submitted.id);
  });

  it('redirects output and jobDone to the storage manager with the original command inside', async () => {
    const jm = handler('all', 'storage@localhost/s1');
    const command: Command = {
      command: 'jobDone',
      agentHost: 'h',
      jobID: 'x1',
      exitCode: 0,
      state: 'done',
    };
    await jm.handle(message(command));
    expect(sent).toEqual([
      {
        to: AGENT,
        command: { command: 'redirect', referral: 'storage@localhost/s1', info: command },
      },
    ]);
  });

  it('as a storage manager ignores job requests', async () => {
    await submitJob(queue, paths, { commandFile: calculator });
    const storage = handler('storage');
    await storage.handle(message({ command: 'want_getJob', agentHost: 'h', jdl: JDL }));
    await storage.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    expect(sent).toEqual([]);
    expect(await queue.countQueued()).toBe(1);
  });

  it('reports invalid and unknown job ids', async () => {
    const jm = handler();
    await jm.handle(message({ command: 'getJobOutputDir', agentHost: 'h', jobID: '../x' }));
    await jm.handle(
      message({ command: 'jobDone', agentHost: 'h', jobID: 'unknown', exitCode: 0, state: 'done' }),
    );
    expect(sent).toEqual([]);
    expect(eventNames()).toEqual(['error.invalidJobId', 'error.invalidJobId']);
  });

  it("clears an earlier attempt's outputs when the job is leased again", async () => {
    const job = await submitJob(queue, paths, { commandFile: calculator });
    const jm = handler();
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    fs.mkdirSync(paths.dir(job.id, 'output'), { recursive: true });
    fs.writeFileSync(paths.file(job.id, 'output', 'stdout'), 'first attempt\n');
    await requeueJob(queue, job.id);
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    expect(await queue.get(job.id)).toMatchObject({ state: 'leased', attempts: 2 });
    expect(fs.existsSync(paths.dir(job.id, 'output'))).toBe(false);
  });

  it('finishes a job once, even when jobDone comes twice', async () => {
    await submitJob(queue, paths, { commandFile: calculator });
    const jm = handler();
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    const runJob = sent[0]?.command;
    if (runJob?.command !== 'runJob') throw new Error('expected runJob');
    const ids = { agentHost: 'h', jobID: runJob.job.id, jmJobData: runJob.jmJobData };
    await jm.handle(message({ command: 'getJobOutputDir', ...ids }));
    const store = sent[1]?.command;
    expect(store).toMatchObject({
      command: 'storeJobOutputDir',
      outputChirpUrl: 'http://jm.example:8088',
      outputDir: runJob.job.outputDir,
      jobID: runJob.job.id,
      jmJobData: runJob.jmJobData,
    });
    expect((await queue.get(runJob.job.id))?.state).toBe('uploading');
    fs.writeFileSync(paths.file(runJob.job.id, 'output', 'stdout'), '4\n');
    await jm.handle(message({ command: 'jobDone', ...ids, exitCode: 0, state: 'done' }));
    await jm.handle(message({ command: 'jobDone', ...ids, exitCode: 1, state: 'failed' }));
    expect(await queue.get(runJob.job.id)).toMatchObject({ state: 'done', exitCode: 0 });
    expect(eventNames().filter((name) => name.startsWith('job.'))).toEqual(['job.succeeded']);
    expect(fs.readFileSync(path.join(root, 'done', runJob.job.id, 'stdout'), 'utf8')).toBe('4\n');
    // A request naming another lease is refused.
    await jm.handle(message({ command: 'want_getJobOutputDir', ...ids, jmJobData: 'lease=other' }));
    expect(sent).toHaveLength(2);
  });

  it('finishes a job once when a resent jobDone arrives while the first is being archived', async () => {
    await submitJob(queue, paths, { commandFile: calculator });
    const jm = handler();
    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    const runJob = sent[0]?.command;
    if (runJob?.command !== 'runJob') throw new Error('expected runJob');
    const ids = { agentHost: 'h', jobID: runJob.job.id, jmJobData: runJob.jmJobData };
    await jm.handle(message({ command: 'getJobOutputDir', ...ids }));
    fs.writeFileSync(paths.file(runJob.job.id, 'output', 'stdout'), '4\n');
    const done = message({ command: 'jobDone', ...ids, exitCode: 0, state: 'done' });
    await Promise.all([jm.handle(done), jm.handle({ ...done, id: `${done.id}-resent` })]);
    expect(await queue.get(runJob.job.id)).toMatchObject({ state: 'done', exitCode: 0 });
    expect(eventNames().filter((name) => name.startsWith('job.'))).toEqual(['job.succeeded']);
    const doneDir = path.join(root, 'done', runJob.job.id);
    expect(fs.readdirSync(doneDir).sort()).toEqual([`${runJob.job.id}.tgz`, 'stderr', 'stdout']);
  });
});

/** A job leased to AGENT, with the ids its requests carry. */
async function leasedToAgent(jm: JobCycleHandler) {
  await submitJob(queue, paths, { commandFile: calculator });
  await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
  const runJob = sent.at(-1)?.command;
  if (runJob?.command !== 'runJob') throw new Error('expected runJob');
  const ids = { agentHost: 'h', jobID: runJob.job.id, jmJobData: runJob.jmJobData };
  return { runJob, ids, jobId: runJob.job.id };
}

describe('the trust rule: only the lease holder, with its lease', () => {
  const STRANGER = 'mallory@localhost/x';

  it("refuses a stranger who names the job's current lease: no output dir, no result", async () => {
    const jm = handler();
    const { ids, jobId } = await leasedToAgent(jm);
    const before = await queue.get(jobId);
    sent = [];
    await jm.handle(message({ command: 'want_getJobOutputDir', ...ids }, STRANGER));
    await jm.handle(message({ command: 'getJobOutputDir', ...ids }, STRANGER));
    await jm.handle(message({ command: 'jobDone', ...ids, exitCode: 0, state: 'done' }, STRANGER));
    expect(sent).toEqual([]);
    expect(notified.map(({ to, command }) => [to, command.command])).toEqual([
      [STRANGER, 'jobRefused'],
      [STRANGER, 'jobRefused'],
      [STRANGER, 'jobRefused'],
    ]);
    expect(notified[0]?.command).toMatchObject({ jobID: jobId, code: 'lease-lost' });
    expect(await queue.get(jobId)).toEqual(before);
  });

  it("accepts the holder's account from another resource (a restarted agent)", async () => {
    const jm = handler();
    const { ids } = await leasedToAgent(jm);
    await jm.handle(message({ command: 'getJobOutputDir', ...ids }, 'AGENT@localhost/other'));
    expect(sent.at(-1)?.command.command).toBe('storeJobOutputDir');
  });

  it('tells the holder of a cancelled job, so it drops the job', async () => {
    const jm = handler();
    const { ids, jobId } = await leasedToAgent(jm);
    await cancelJob(queue, jobId);
    await jm.handle(message({ command: 'want_getJobOutputDir', ...ids }));
    await jm.handle(message({ command: 'jobDone', ...ids, exitCode: 0, state: 'done' }));
    expect(notified.map(({ command }) => command)).toEqual([
      expect.objectContaining({ command: 'jobRefused', code: 'lease-lost' }),
      expect.objectContaining({ command: 'jobRefused', code: 'lease-lost' }),
    ]);
    expect((await queue.get(jobId))?.state).toBe('cancelled');
  });

  it('does not echo a malformed job id back', async () => {
    const jm = handler();
    await jm.handle(message({ command: 'want_getJobOutputDir', agentHost: 'h', jobID: 'a\nb' }));
    expect(notified).toEqual([]);
  });
});

describe('jobDone is recorded before it is acknowledged', () => {
  it('throws while the done dir cannot take the result, keeps the job and its lease, and records a resend', async () => {
    const jm = handler();
    const { ids, jobId } = await leasedToAgent(jm);
    await jm.handle(message({ command: 'getJobOutputDir', ...ids }));
    fs.writeFileSync(paths.file(jobId, 'output', 'stdout'), '4\n');
    // The done dir is a file: nothing can be written under it.
    fs.writeFileSync(path.join(root, 'done'), 'not a directory');
    const done = message({ command: 'jobDone', ...ids, exitCode: 0, state: 'done' });
    const leaseBefore = (await queue.get(jobId))?.leaseExpiresAt ?? 0;
    await expect(jm.handle(done)).rejects.toThrow();
    const waiting = await queue.get(jobId);
    expect(waiting?.state).toBe('uploading');
    expect(waiting?.leaseExpiresAt ?? 0).toBeGreaterThanOrEqual(leaseBefore);
    expect(waiting?.attempts).toBe(1);
    fs.rmSync(path.join(root, 'done'));
    await jm.handle({ ...done });
    expect(await queue.get(jobId)).toMatchObject({ state: 'done', exitCode: 0 });
    expect(fs.readFileSync(path.join(root, 'done', jobId, 'stdout'), 'utf8')).toBe('4\n');
  });

  it("takes the original agent's state='ready' with exit code 0 as a success", async () => {
    const jm = handler();
    const { ids, jobId } = await leasedToAgent(jm);
    await jm.handle(message({ command: 'jobDone', ...ids, exitCode: 0, state: 'ready' }));
    expect(await queue.get(jobId)).toMatchObject({ state: 'done', agentState: 'ready' });
  });
});

describe('a job whose inputs the agent could not download', () => {
  it('goes back to the queue and runs on the next lease, until JM_MAX_ATTEMPTS leases', async () => {
    const jm = handler('all', undefined, { maxAttempts: 2 });
    const first = await leasedToAgent(jm);
    const unrun = { exitCode: -1, state: 'download-failed' };
    await jm.handle(message({ command: 'jobDone', ...first.ids, ...unrun }));
    expect(await queue.get(first.jobId)).toMatchObject({ state: 'queued', attempts: 1 });
    expect((await queue.get(first.jobId))?.agent).toBeUndefined();
    expect(eventNames().filter((name) => name.startsWith('job.'))).toEqual([]);
    // The old lease is gone: its resent jobDone changes nothing.
    await jm.handle(message({ command: 'jobDone', ...first.ids, ...unrun }));
    expect((await queue.get(first.jobId))?.state).toBe('queued');

    await jm.handle(message({ command: 'getJob', agentHost: 'h', jdl: JDL }));
    const again = sent.at(-1)?.command;
    if (again?.command !== 'runJob') throw new Error('expected runJob');
    expect(again.job.id).toBe(first.jobId);
    const ids = { agentHost: 'h', jobID: again.job.id, jmJobData: again.jmJobData };
    await jm.handle(message({ command: 'jobDone', ...ids, ...unrun }));
    expect(await queue.get(first.jobId)).toMatchObject({
      state: 'failed',
      attempts: 2,
      agentState: 'download-failed',
    });
  });
});

describe('renewLease: a running job keeps its lease', () => {
  it('extends the lease of the holder, and refuses anyone else', async () => {
    const jm = handler();
    const { ids, jobId } = await leasedToAgent(jm);
    const before = (await queue.get(jobId))?.leaseExpiresAt ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await jm.handle(
      message({ command: 'renewLease', agentHost: 'h', jobID: jobId, jmJobData: ids.jmJobData }),
    );
    const renewed = await queue.get(jobId);
    expect(renewed?.leaseExpiresAt ?? 0).toBeGreaterThan(before);
    expect(renewed?.state).toBe('leased');
    await jm.handle(
      message(
        { command: 'renewLease', agentHost: 'h', jobID: jobId, jmJobData: ids.jmJobData },
        'mallory@localhost/x',
      ),
    );
    expect(notified.at(-1)).toMatchObject({
      to: 'mallory@localhost/x',
      command: { command: 'jobRefused', code: 'lease-lost' },
    });
    expect((await queue.get(jobId))?.leaseExpiresAt).toBe(renewed?.leaseExpiresAt);
  });
});

describe('limits: cooldown, bans, leases per account', () => {
  const want = (from = AGENT) =>
    message({ command: 'want_getJob', agentHost: 'h', jdl: JDL }, from);
  const get = (from = AGENT) => message({ command: 'getJob', agentHost: 'h', jdl: JDL }, from);

  it('tells an account asking again within the cooldown to sleep for what is left', async () => {
    await submitJob(queue, paths, { commandFile: calculator });
    let now = 1_000_000;
    const jm = handler('all', undefined, {
      cooldown: new RequestCooldown({ cooldownMs: 30_000, now: () => now }),
    });
    await jm.handle(want());
    expect(sent.map((s) => s.command.command)).toEqual(['have_getJob']);
    now += 10_000;
    // Another resource of the same account is the same account.
    await jm.handle(want('AGENT@localhost/other'));
    expect(notified).toEqual([
      { to: 'AGENT@localhost/other', command: { command: 'sleep', seconds: 20 } },
    ]);
    expect(eventNames()).toEqual(['error.tooOften']);
    // getJob is not limited: it follows a served want_getJob.
    await jm.handle(get());
    expect(sent.map((s) => s.command.command)).toEqual(['have_getJob', 'runJob']);
    await jm.handle(want('someone@localhost/x'));
    expect(notified).toHaveLength(1);
    now += 20_000;
    await submitJob(queue, paths, { commandFile: calculator });
    await jm.handle(want());
    expect(sent.map((s) => s.command.command)).toEqual(['have_getJob', 'runJob', 'have_getJob']);
  });

  it('gives a banned account nothing and refuses its requests about a job', async () => {
    await submitJob(queue, paths, { commandFile: calculator });
    const banFile = path.join(root, 'banned');
    fs.writeFileSync(banFile, '# bans\nagent@localhost\n');
    const jm = handler('all', undefined, {
      banned: new BannedAccounts({ file: banFile, logger: silentLogger, checkIntervalMs: 0 }),
    });
    await jm.handle(want());
    await jm.handle(get());
    expect(sent).toEqual([]);
    const job = (await queue.list())[0];
    await jm.handle(
      message({ command: 'want_getJobOutputDir', agentHost: 'h', jobID: job?.id ?? '' }),
    );
    expect(notified.map((n) => n.command)).toEqual([
      expect.objectContaining({ command: 'jobRefused', code: 'banned' }),
    ]);
    expect(eventNames()).toEqual(['error.banned', 'error.banned', 'error.banned']);
    fs.writeFileSync(banFile, '*@elsewhere\n');
    await jm.handle(want());
    expect(sent.map((s) => s.command.command)).toEqual(['have_getJob']);
  });

  it('hands an account no more jobs once it holds the cap of active leases', async () => {
    for (let index = 0; index < 3; index += 1) {
      await submitJob(queue, paths, { commandFile: calculator });
    }
    const jm = handler('all', undefined, { maxLeasesPerAgent: 2 });
    await jm.handle(get('agent@localhost/1'));
    await jm.handle(get('agent@localhost/2'));
    await jm.handle(get('agent@localhost/3'));
    await jm.handle(want('agent@localhost/3'));
    expect(sent.map((s) => s.command.command)).toEqual(['runJob', 'runJob']);
    expect(eventNames()).toEqual(['error.tooManyLeases', 'error.tooManyLeases']);
    expect(await queue.countQueued()).toBe(1);
    // Another account is not held back.
    await jm.handle(get('other@localhost/1'));
    expect(sent.map((s) => s.command.command)).toEqual(['runJob', 'runJob', 'runJob']);
  });
});
