import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobLifecycle, type LifecycleDeps } from '../../../src/core/job-lifecycle';
import { requestJob } from '../../../src/core/job-request';
import { JobStore, type JobInHand } from '../../../src/core/job-store';
import { ManagerExchange } from '../../../src/core/manager-exchange';
import { containerLimits } from '../../../src/core/resource-policy';
import { SerialLock } from '../../../src/core/serial-lock';
import type { Command } from '../../../src/protocol/commands';
import {
  FakeChannel,
  FakeRunner,
  FakeStorage,
  JM,
  JM_FULL,
  jobDescription,
  scriptedManager,
} from './fakes';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function deps(
  channel: FakeChannel,
  runner: FakeRunner,
  storage: FakeStorage,
  phases: string[] = [],
): LifecycleDeps {
  return {
    exchange: new ManagerExchange(channel),
    runner,
    storage,
    store: new JobStore(dir),
    logger: {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child() {
        return this;
      },
    },
    handshakeLock: new SerialLock(),
    agentHost: 'volunteer.example.org',
    jobManagerAddress: () => JM,
    limits: () =>
      containerLimits(
        { cpuLimitPercent: 50, memoryLimitMb: 512, diskLimitMb: 100, jobSlots: 1 },
        2,
      ),
    mayRun: () => true,
    image: 'copilot-job:latest',
    wallClockLimitMs: 60_000,
    allowJobNetwork: false,
    replyTimeoutMs: 200,
    retry: { initialMs: 5, maxMs: 20, jitter: 0 },
    maxUploadAttempts: 3,
    resultRetentionMs: 60_000,
    onPhase: (_jobId, phase) => phases.push(phase),
    onStarted: () => undefined,
    signal: new AbortController().signal,
  };
}

function inHand(overrides: Partial<JobInHand> = {}): JobInHand {
  return {
    job: jobDescription(),
    jmJobData: 'lease=1',
    manager: JM_FULL,
    phase: 'received',
    receivedAt: new Date().toISOString(),
    ...overrides,
  };
}

describe('job request (want_getJob → have_getJob → getJob → runJob)', () => {
  it('broadcasts want_getJob, then getJob to the first responder, and returns the job with jmJobData', async () => {
    const channel = new FakeChannel(scriptedManager([jobDescription()]));
    const result = await requestJob({
      exchange: new ManagerExchange(channel),
      logger: deps(channel, new FakeRunner(), new FakeStorage()).logger,
      jobManagerAddress: JM,
      agentHost: 'volunteer.example.org',
      jdl: '[ Type = "machine" ]',
      replyTimeoutMs: 500,
      ignoredUntil: new Map(),
    });
    expect(result).toMatchObject({
      kind: 'job',
      received: { manager: JM_FULL, jmJobData: 'lease=1' },
    });
    expect(channel.sent.map((entry) => [entry.to, entry.command.command])).toEqual([
      [JM, 'want_getJob'],
      [JM_FULL, 'getJob'],
    ]);
    expect(channel.sent[1]?.command).toEqual({
      command: 'getJob',
      agentHost: 'volunteer.example.org',
      jdl: '[ Type = "machine" ]',
    });
  });

  it('ignores a manager whose requireFile is missing on this host and takes the next offer', async () => {
    const channel = new FakeChannel((to, command) => {
      if (command.command === 'want_getJob') {
        return [
          [
            'jm@localhost/picky',
            { command: 'have_getJob', requireFile: '/nonexistent/cvmfs/marker' },
          ],
          [JM_FULL, { command: 'have_getJob', requireFile: dir }],
        ];
      }
      if (command.command === 'getJob' && to === JM_FULL) {
        return [[JM_FULL, { command: 'runJob', job: jobDescription() }]];
      }
      return [];
    });
    const ignored = new Map<string, number>();
    const result = await requestJob({
      exchange: new ManagerExchange(channel),
      logger: deps(channel, new FakeRunner(), new FakeStorage()).logger,
      jobManagerAddress: JM,
      agentHost: 'h',
      jdl: '[]',
      replyTimeoutMs: 500,
      ignoredUntil: ignored,
    });
    expect(result).toMatchObject({ kind: 'job', received: { manager: JM_FULL } });
    expect(result.kind === 'job' && 'jmJobData' in result.received).toBe(false);
    expect(ignored.has('jm@localhost/picky')).toBe(true);
    expect(channel.commands('getJob').map((entry) => entry.to)).toEqual([JM_FULL]);
  });

  it('returns no-offer when nobody answers, and forgets managers whose time out is over', async () => {
    const channel = new FakeChannel(() => []);
    const ignored = new Map([
      ['jm@localhost/was-picky', Date.now() - 1],
      ['jm@localhost/picky', Date.now() + 60_000],
    ]);
    const result = await requestJob({
      exchange: new ManagerExchange(channel),
      logger: deps(channel, new FakeRunner(), new FakeStorage()).logger,
      jobManagerAddress: JM,
      agentHost: 'h',
      jdl: '[]',
      replyTimeoutMs: 50,
      ignoredUntil: ignored,
    });
    expect(result).toEqual({ kind: 'no-offer' });
    expect([...ignored.keys()]).toEqual(['jm@localhost/picky']);
  });
});

describe('job lifecycle', () => {
  it('downloads, runs, asks for the output dir, uploads stdout/stderr/outputs and sends jobDone with the latest jmJobData', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const storage = new FakeStorage();
    const phases: string[] = [];
    runner.outcome = { exitCode: 0, state: 'done' };
    const lifecycle = new JobLifecycle(deps(channel, runner, storage, phases), inHand());
    const originalRun = runner.run.bind(runner);
    runner.run = async (spec, onStarted) => {
      fs.writeFileSync(path.join(spec.outputDir, 'result.txt'), 'r\n');
      return originalRun(spec, onStarted);
    };
    const record = await lifecycle.run();
    expect(record).toMatchObject({
      jobId: 'job-1',
      state: 'done',
      exitCode: 0,
      manager: JM_FULL,
      cpuSeconds: 1.5,
    });
    const spec = runner.specs[0];
    expect(spec?.argv).toEqual(['./calculator.sh', '1', '2']);
    expect(spec?.env).toEqual({ A: 'b' });
    expect(spec?.network).toBe(false);
    expect(spec?.limits.nanoCpus).toBe(1_000_000_000);
    expect([...storage.uploads.keys()]).toEqual([
      '/storage/job-1/output/tok2/stdout',
      '/storage/job-1/output/tok2/stderr',
      '/storage/job-1/output/tok2/result.txt',
    ]);
    expect(storage.uploads.get('/storage/job-1/output/tok2/stdout')).toBe('4\n');
    expect(channel.sent.map((entry) => [entry.to, entry.command])).toEqual([
      [
        JM,
        {
          command: 'want_getJobOutputDir',
          agentHost: 'volunteer.example.org',
          jobID: 'job-1',
          jmJobData: 'lease=1',
        },
      ],
      [
        JM_FULL,
        {
          command: 'getJobOutputDir',
          agentHost: 'volunteer.example.org',
          jobID: 'job-1',
          jmJobData: 'lease=1',
        },
      ],
      [
        JM_FULL,
        {
          command: 'jobDone',
          exitCode: 0,
          agentHost: 'volunteer.example.org',
          state: 'done',
          jobID: 'job-1',
          jmJobData: 'lease=2',
        },
      ],
    ]);
    expect(phases).toEqual(['downloading', 'starting', 'running', 'uploading', 'reporting']);
    expect(fs.existsSync(path.join(dir, 'jobs', 'job-1'))).toBe(false);
  });

  it('omits jmJobData when the manager never sent one', async () => {
    const channel = new FakeChannel((to, command) => {
      if (command.command === 'want_getJobOutputDir')
        return [[JM_FULL, { command: 'have_getJobOutputDir' }]];
      if (command.command === 'getJobOutputDir') {
        return [
          [
            JM_FULL,
            {
              command: 'storeJobOutputDir',
              outputChirpUrl: 'http://h',
              outputDir: '/o',
              jobID: 'job-1',
            },
          ],
        ];
      }
      return [];
    });
    const state = inHand();
    delete state.jmJobData;
    await new JobLifecycle(deps(channel, new FakeRunner(), new FakeStorage()), state).run();
    for (const entry of channel.sent) expect('jmJobData' in entry.command).toBe(false);
  });

  it('follows a redirect: the inner command goes to the referral, which then answers and gets jobDone', async () => {
    const STORAGE = 'storage@localhost/real';
    const channel = new FakeChannel((to, command) => {
      if (command.command === 'want_getJobOutputDir')
        return [[JM_FULL, { command: 'have_getJobOutputDir' }]];
      if (command.command === 'getJobOutputDir' && to === JM_FULL) {
        return [
          [
            JM_FULL,
            {
              command: 'redirect',
              referral: STORAGE,
              info: { ...command, jmJobData: 'redirected=1' },
            },
          ],
        ];
      }
      if (command.command === 'getJobOutputDir' && to === STORAGE) {
        return [
          [
            STORAGE,
            {
              command: 'storeJobOutputDir',
              outputChirpUrl: 'http://s',
              outputDir: '/out',
              jobID: command.jobID,
              jmJobData: 'store=3',
            },
          ],
        ];
      }
      return [];
    });
    const storage = new FakeStorage();
    await new JobLifecycle(deps(channel, new FakeRunner(), storage), inHand()).run();
    expect(
      channel.sent.map((entry) => [
        entry.to,
        entry.command.command,
        'jmJobData' in entry.command ? entry.command.jmJobData : undefined,
      ]),
    ).toEqual([
      [JM, 'want_getJobOutputDir', 'lease=1'],
      [JM_FULL, 'getJobOutputDir', 'lease=1'],
      [STORAGE, 'getJobOutputDir', 'redirected=1'],
      [STORAGE, 'jobDone', 'store=3'],
    ]);
    expect(storage.uploads.has('/out/stdout')).toBe(true);
  });

  it('ignores a redirect from a JID it never contacted', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const exchange = new ManagerExchange(channel);
    const evil: Command = {
      command: 'redirect',
      referral: 'victim@elsewhere',
      info: { command: 'jobDone', exitCode: 0, agentHost: 'x', state: 'done', jobID: 'j' },
    };
    channel.deliver('stranger@localhost/x', evil);
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.sent).toEqual([]);
    exchange.dispose();
  });

  it('reports a failed input download as download-failed with the reason in stderr, without running', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const storage = new FakeStorage();
    storage.inputs.clear();
    const record = await new JobLifecycle(deps(channel, runner, storage), inHand()).run();
    expect(record).toMatchObject({ state: 'download-failed', exitCode: -1 });
    expect(record.error).toMatch(/HTTP 404/);
    expect(runner.specs).toEqual([]);
    expect(storage.uploads.get('/storage/job-1/output/tok2/stderr')).toMatch(
      /input download failed/,
    );
    expect(channel.commands('jobDone')[0]?.command).toMatchObject({
      state: 'download-failed',
      exitCode: -1,
    });
  });

  it('drops a job whose input token the storage refuses (lease gone): no run, no jobDone', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const storage = new FakeStorage();
    storage.refuseDownloads = 403;
    const store = new JobStore(dir);
    const record = await new JobLifecycle(
      { ...deps(channel, runner, storage), store },
      inHand(),
    ).run();
    expect(record).toMatchObject({ state: 'aborted', exitCode: -1 });
    expect(record.error).toMatch(/no longer gives this job to us: .*HTTP 403/);
    expect(runner.specs).toEqual([]);
    expect(channel.commands('want_getJobOutputDir')).toEqual([]);
    expect(channel.commands('jobDone')).toEqual([]);
    expect(store.exists('job-1')).toBe(false);
  });

  it('drops a finished job whose output the storage refuses (409), without jobDone', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const storage = new FakeStorage();
    storage.refuseUploads = 409;
    const record = await new JobLifecycle(deps(channel, new FakeRunner(), storage), inHand()).run();
    expect(record.state).toBe('aborted');
    expect(record.error).toMatch(/no longer takes this job's output/);
    expect(channel.commands('getJobOutputDir')).toHaveLength(1);
    expect(channel.commands('jobDone')).toEqual([]);
  });

  it('gives up a finished result that no manager takes within the retention time', async () => {
    const answering = scriptedManager([]);
    const channel = new FakeChannel((to, command) =>
      command.command === 'want_getJobOutputDir' ? [] : answering(to, command),
    );
    const record = await new JobLifecycle(
      { ...deps(channel, new FakeRunner(), new FakeStorage()), resultRetentionMs: 0 },
      inHand(),
    ).run();
    expect(record.state).toBe('aborted');
    expect(record.error).toMatch(/no manager took the result/);
    expect(channel.commands('want_getJobOutputDir')).toHaveLength(1);
    expect(channel.commands('jobDone')).toEqual([]);
  });

  it('counts the retention time from when the job finished, across agent restarts', async () => {
    const answering = scriptedManager([]);
    const channel = new FakeChannel((to, command) =>
      command.command === 'want_getJobOutputDir' ? [] : answering(to, command),
    );
    const store = new JobStore(dir);
    const paths = store.paths('job-1');
    fs.mkdirSync(paths.output, { recursive: true });
    fs.writeFileSync(paths.stdout, '');
    fs.writeFileSync(paths.stderr, '');
    // Finished two minutes ago, before the agent restarted; the retention is one minute.
    const finishedAt = new Date(Date.now() - 120_000).toISOString();
    const record = await new JobLifecycle(
      deps(channel, new FakeRunner(), new FakeStorage()),
      inHand({
        phase: 'finished',
        result: { exitCode: 0, state: 'done', cpuSeconds: 1, startedAt: finishedAt, finishedAt },
      }),
    ).run();
    expect(record.state).toBe('aborted');
    expect(record.error).toMatch(/no manager took the result in 1 min/);
    expect(channel.commands('want_getJobOutputDir')).toHaveLength(1);
  });

  it('refuses unsafe input names and bad environments as failed jobs', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const unsafe = await new JobLifecycle(
      deps(channel, runner, new FakeStorage()),
      inHand({ job: jobDescription({ id: 'job-2', inputFiles: '../etc/passwd' }) }),
    ).run();
    expect(unsafe).toMatchObject({ state: 'download-failed' });
    expect(unsafe.error).toMatch(/unsafe input file name/);
    const badEnv = await new JobLifecycle(
      deps(channel, runner, new FakeStorage()),
      inHand({ job: jobDescription({ id: 'job-3', environment: '1BAD=x' }) }),
    ).run();
    expect(badEnv).toMatchObject({ state: 'failed', exitCode: -1 });
    expect(runner.specs).toEqual([]);
  });

  it('retries the output dir handshake until a manager answers', async () => {
    let silentRounds = 2;
    const answering = scriptedManager([]);
    const channel = new FakeChannel((to, command) => {
      if (command.command === 'want_getJobOutputDir' && silentRounds > 0) {
        silentRounds -= 1;
        return [];
      }
      return answering(to, command);
    });
    const record = await new JobLifecycle(
      deps(channel, new FakeRunner(), new FakeStorage()),
      inHand(),
    ).run();
    expect(record.state).toBe('done');
    expect(channel.commands('want_getJobOutputDir')).toHaveLength(3);
  });

  it('after repeated upload failures reports upload-failed, still sending jobDone', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const storage = new FakeStorage();
    storage.failUploads = 100;
    const record = await new JobLifecycle(deps(channel, new FakeRunner(), storage), inHand()).run();
    expect(record.state).toBe('upload-failed');
    expect(channel.commands('getJobOutputDir')).toHaveLength(3);
    expect(channel.commands('jobDone')[0]?.command).toMatchObject({
      state: 'upload-failed',
      exitCode: 0,
    });
  });

  it('resumes a persisted finished job: no second run, the result is delivered', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const store = new JobStore(dir);
    const paths = store.paths('job-1');
    fs.mkdirSync(paths.output, { recursive: true });
    fs.writeFileSync(paths.stdout, 'kept\n');
    fs.writeFileSync(paths.stderr, '');
    const storage = new FakeStorage();
    const finishedAt = new Date().toISOString();
    const state = inHand({
      phase: 'finished',
      result: { exitCode: 3, state: 'failed', cpuSeconds: 2, startedAt: finishedAt, finishedAt },
    });
    store.save(state);
    const [loaded] = store.loadAll(() => undefined);
    expect(loaded?.phase).toBe('finished');
    const record = await new JobLifecycle(
      deps(channel, runner, storage),
      loaded as JobInHand,
    ).run();
    expect(record).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(runner.specs).toEqual([]);
    expect(storage.uploads.get('/storage/job-1/output/tok2/stdout')).toBe('kept\n');
  });

  it('falls back to the broadcast address when jobDone to the manager is not acknowledged', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const state = inHand({
      phase: 'uploaded',
      result: {
        exitCode: 0,
        state: 'done',
        cpuSeconds: 0,
        startedAt: null,
        finishedAt: new Date().toISOString(),
      },
      output: { peer: 'gone@localhost/x', outputChirpUrl: 'http://h', outputDir: '/o' },
    });
    channel.unreachable.add('gone@localhost/x');
    await new JobLifecycle(deps(channel, new FakeRunner(), new FakeStorage()), state).run();
    expect(channel.commands('jobDone').map((entry) => entry.to)).toEqual(['gone@localhost/x', JM]);
  });

  it('Docker vanishing mid-run is not a job failure: the job stays on disk in phase running', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    runner.run = () => Promise.reject(new Error('connect ECONNREFUSED /var/run/docker.sock'));
    await expect(
      new JobLifecycle(deps(channel, runner, new FakeStorage()), inHand()).run(),
    ).rejects.toThrow(/Docker is not reachable/);
    const saved = JSON.parse(
      fs.readFileSync(path.join(dir, 'jobs', 'job-1', 'job.json'), 'utf8'),
    ) as JobInHand;
    expect(saved.phase).toBe('running');
    expect(channel.commands('jobDone')).toEqual([]);
  });

  it('a container that cannot be created (e.g. no such image) is a failed job, reported', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    runner.run = () =>
      Promise.reject(new Error('(HTTP code 404) no such container - No such image: nope:latest'));
    const record = await new JobLifecycle(deps(channel, runner, new FakeStorage()), inHand()).run();
    expect(record).toMatchObject({ state: 'failed', exitCode: -1 });
    expect(channel.commands('jobDone')).toHaveLength(1);
  });

  it('persists the job in hand at each step so a restarted agent can pick it up', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    runner.hold = true;
    const d = deps(channel, runner, new FakeStorage());
    const lifecycle = new JobLifecycle(d, inHand());
    const done = lifecycle.run();
    for (let i = 0; i < 50 && runner.specs.length === 0; i += 1)
      await new Promise((r) => setTimeout(r, 10));
    const saved = JSON.parse(
      fs.readFileSync(path.join(dir, 'jobs', 'job-1', 'job.json'), 'utf8'),
    ) as JobInHand;
    expect(saved).toMatchObject({
      phase: 'running',
      jmJobData: 'lease=1',
      manager: JM_FULL,
      job: { id: 'job-1' },
    });
    runner.release();
    await done;
  });
});
