import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockerUnavailableError } from '@copilot/core/docker-socket';
import { JobLifecycle, type LifecycleDeps } from '@copilot/core/job-lifecycle';
import { requestJob } from '@copilot/core/job-request';
import { JobStore, type JobInHand } from '@copilot/core/job-store';
import { containerLimits } from '@copilot/core/resource-policy';
import { SerialLock } from '@copilot/base/serial-lock';
import type { Command } from '@copilot/protocol/commands';
import { silentLogger } from '@copilot/base/logger';
import {
  FakeChannel,
  FakeRunner,
  FakeStorage,
  JM,
  JM_FULL,
  jobDescription,
  managerExchange,
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
    exchange: managerExchange(channel),
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
    limits: () =>
      containerLimits(
        { cpuLimitPercent: 50, memoryLimitMb: 512, diskLimitMb: 100, jobSlots: 1 },
        2,
      ),
    mayRun: () => true,
    image: 'copilot-job:latest',
    wallClockLimitMs: 60_000,
    allowJobNetwork: () => false,
    replyTimeoutMs: 200,
    leaseRenewalMs: 60_000,
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
      exchange: managerExchange(channel),
      logger: deps(channel, new FakeRunner(), new FakeStorage()).logger,
      managers: [JM],
      agentHost: 'volunteer.example.org',
      jdl: '[ Type = "machine" ]',
      replyTimeoutMs: 500,
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
    const exchange = managerExchange(channel);
    const result = await requestJob({
      exchange,
      logger: deps(channel, new FakeRunner(), new FakeStorage()).logger,
      managers: [JM],
      agentHost: 'h',
      jdl: '[]',
      replyTimeoutMs: 500,
    });
    expect(result).toMatchObject({ kind: 'job', received: { manager: JM_FULL } });
    expect(result.kind === 'job' && 'jmJobData' in result.received).toBe(false);
    expect(exchange.cooldowns.has('jm@localhost/picky')).toBe(true);
    expect(channel.commands('getJob').map((entry) => entry.to)).toEqual([JM_FULL]);
  });

  it('returns no-offer when nobody answers, and forgets managers whose time out is over', async () => {
    const channel = new FakeChannel(() => []);
    const exchange = managerExchange(channel);
    exchange.cooldowns.set('jm@localhost/was-picky', Date.now() - 1);
    exchange.cooldowns.set('jm@localhost/picky', Date.now() + 60_000);
    const result = await requestJob({
      exchange,
      logger: deps(channel, new FakeRunner(), new FakeStorage()).logger,
      managers: [JM],
      agentHost: 'h',
      jdl: '[]',
      replyTimeoutMs: 50,
    });
    expect(result).toEqual({ kind: 'no-offer' });
    expect([...exchange.cooldowns.keys()]).toEqual(['jm@localhost/picky']);
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
    expect(spec?.env).toEqual({
      A: 'b',
      COPILOT_CHECKPOINT_DIR: '/checkpoint',
      COPILOT_PROGRESS_FILE: '/copilot/progress',
    });
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
    const exchange = managerExchange(channel);
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

  it('tries an unreachable storage again and runs the job once it answers', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const storage = new FakeStorage();
    storage.unreachableDownloads = 2;
    const record = await new JobLifecycle(deps(channel, runner, storage), inHand()).run();
    expect(record.state).toBe('done');
    expect(storage.downloadCalls).toBe(3);
    expect(runner.specs).toHaveLength(1);
  });

  it('gives up on a storage that stays unreachable: download-failed after 4 tries, a 404 at once', async () => {
    const down = new FakeStorage();
    down.unreachableDownloads = 100;
    const unreachable = await new JobLifecycle(
      deps(new FakeChannel(scriptedManager([])), new FakeRunner(), down),
      inHand(),
    ).run();
    expect(unreachable).toMatchObject({ state: 'download-failed' });
    expect(down.downloadCalls).toBe(4);
    const missing = new FakeStorage();
    missing.inputs.clear();
    await new JobLifecycle(
      deps(new FakeChannel(scriptedManager([])), new FakeRunner(), missing),
      inHand(),
    ).run();
    expect(missing.downloadCalls).toBe(1);
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

  it('adopts the container an earlier run of the agent left: no download, no fresh start', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    runner.containers.add('job-1');
    const store = new JobStore(dir);
    const paths = store.paths('job-1');
    for (const sub of [paths.input, paths.output, paths.checkpoint, paths.status])
      fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(paths.input, 'calculator.sh'), 'kept');
    fs.writeFileSync(paths.stderr, '');
    const storage = new FakeStorage();
    storage.refuseDownloads = 500;
    const record = await new JobLifecycle(
      deps(channel, runner, storage),
      inHand({ phase: 'running' }),
    ).run();
    expect(record.state).toBe('done');
    expect(runner.calls).toEqual(['run job-1 adopt']);
    expect(runner.specs[0]?.env.COPILOT_RESUMED).toBe('1');
    expect(runner.specs[0]?.checkpointDir).toBe(paths.checkpoint);
  });

  it('starts a job whose container is gone again, keeping its checkpoint, with COPILOT_RESUMED=1', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const store = new JobStore(dir);
    const paths = store.paths('job-1');
    fs.mkdirSync(paths.checkpoint, { recursive: true });
    fs.writeFileSync(path.join(paths.checkpoint, 'step'), '7');
    const record = await new JobLifecycle(
      deps(channel, runner, new FakeStorage()),
      inHand({ phase: 'running' }),
    ).run();
    expect(record.state).toBe('done');
    expect(runner.calls).toEqual(['run job-1']);
    expect(runner.specs[0]?.env.COPILOT_RESUMED).toBe('1');
    expect(runner.specs[0]?.adopt).toBe(false);
    expect(fs.existsSync(path.join(paths.checkpoint, 'step'))).toBe(false); // removed with the job
  });

  it('leaves the work dir of a job in phase running alone while Docker cannot say whether its container lives', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    runner.hasContainer = () => Promise.reject(new DockerUnavailableError('connect ECONNREFUSED'));
    const store = new JobStore(dir);
    const paths = store.paths('job-1');
    fs.mkdirSync(paths.input, { recursive: true });
    fs.writeFileSync(path.join(paths.input, 'calculator.sh'), 'in use');
    const lifecycle = new JobLifecycle(
      deps(channel, runner, new FakeStorage()),
      inHand({ phase: 'running' }),
    );
    await expect(lifecycle.run()).rejects.toBeInstanceOf(DockerUnavailableError);
    expect(fs.readFileSync(path.join(paths.input, 'calculator.sh'), 'utf8')).toBe('in use');
    expect(runner.specs).toEqual([]);
    expect(store.load('job-1', () => undefined)?.phase).toBe('running');
  });

  it('a job started afresh gets an empty checkpoint dir and no COPILOT_RESUMED', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    const store = new JobStore(dir);
    const paths = store.paths('job-1');
    fs.mkdirSync(paths.checkpoint, { recursive: true });
    fs.writeFileSync(path.join(paths.checkpoint, 'stale'), 'x');
    let seen: string[] = [];
    runner.onRun = () => {
      seen = fs.readdirSync(paths.checkpoint);
    };
    await new JobLifecycle(deps(channel, runner, new FakeStorage()), inHand()).run();
    expect(seen).toEqual([]);
    expect(runner.specs[0]?.env.COPILOT_RESUMED).toBeUndefined();
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
    runner.run = () =>
      Promise.reject(new DockerUnavailableError('connect ECONNREFUSED /var/run/docker.sock'));
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

describe('the trust rule: work and storage orders only from our managers', () => {
  const STRANGER = 'mallory@localhost/x';

  it('takes no offer and no runJob from a stranger, and asks only the real manager', async () => {
    const channel = new FakeChannel((to, command) => {
      if (command.command === 'want_getJob') {
        return [
          [STRANGER, { command: 'have_getJob' }],
          [STRANGER, { command: 'runJob', job: jobDescription({ id: 'evil' }) }],
          [JM_FULL, { command: 'have_getJob' }],
        ];
      }
      if (command.command === 'getJob' && to === JM_FULL) {
        return [
          [STRANGER, { command: 'runJob', job: jobDescription({ id: 'evil' }) }],
          [JM_FULL, { command: 'runJob', job: jobDescription() }],
        ];
      }
      return [];
    });
    const exchange = managerExchange(channel);
    const result = await requestJob({
      exchange,
      logger: silentLogger,
      managers: [JM],
      agentHost: 'h',
      jdl: '[]',
      replyTimeoutMs: 500,
    });
    expect(result).toMatchObject({
      kind: 'job',
      received: { manager: JM_FULL, job: { id: 'job-1' } },
    });
    expect(channel.sent.filter((entry) => entry.to === STRANGER)).toEqual([]);
    expect(exchange.trust.droppedCount).toBe(3);
  });

  it('never gives its lease to a stranger who offers an output dir, and jobDone goes to the manager', async () => {
    const answering = scriptedManager([]);
    const channel = new FakeChannel((to, command) => {
      if (command.command === 'want_getJobOutputDir') {
        // The stranger answers first, with an offer and a storage order of its own.
        channel.deliver(STRANGER, { command: 'have_getJobOutputDir' });
        channel.deliver(STRANGER, {
          command: 'storeJobOutputDir',
          outputChirpUrl: 'http://evil.example',
          outputDir: '/steal',
          jobID: 'job-1',
        });
      }
      return answering(to, command);
    });
    const storage = new FakeStorage();
    const record = await new JobLifecycle(deps(channel, new FakeRunner(), storage), inHand()).run();
    expect(record.state).toBe('done');
    expect(channel.sent.filter((entry) => entry.to === STRANGER)).toEqual([]);
    expect([...storage.uploads.keys()].some((key) => key.startsWith('/steal'))).toBe(false);
    expect(channel.commands('jobDone').map((entry) => entry.to)).toEqual([JM_FULL]);
  });

  it('ignores a redirect from a stranger even after we contacted it', async () => {
    const channel = new FakeChannel(() => []);
    const exchange = managerExchange(channel);
    await exchange.send(STRANGER, { command: 'pong' });
    channel.deliver(STRANGER, {
      command: 'redirect',
      referral: 'victim@elsewhere',
      info: { command: 'jobDone', exitCode: 0, agentHost: 'x', state: 'done', jobID: 'j' },
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.sent.map((entry) => entry.to)).toEqual([STRANGER]);
    exchange.dispose();
  });

  it("drops the job at once when its manager refuses it (cancelled), freeing the slot; a stranger's refusal is ignored", async () => {
    const channel = new FakeChannel((to, command) => {
      if (command.command === 'want_getJobOutputDir') {
        const refusal = (from: string): [string, Command] => [
          from,
          { command: 'jobRefused', jobID: 'job-1', code: 'lease-lost', reason: 'cancelled' },
        ];
        return [refusal(STRANGER), refusal('jm@localhost/other-resource')];
      }
      return [];
    });
    const store = new JobStore(dir);
    const record = await new JobLifecycle(
      { ...deps(channel, new FakeRunner(), new FakeStorage()), store, replyTimeoutMs: 5_000 },
      inHand(),
    ).run();
    expect(record).toMatchObject({ state: 'aborted' });
    expect(record.error).toMatch(/refused the job \(lease-lost\): cancelled/);
    expect(channel.commands('want_getJobOutputDir')).toHaveLength(1);
    expect(channel.commands('jobDone')).toEqual([]);
    expect(store.exists('job-1')).toBe(false);
  });

  it('takes a 413 from the storage as final: one upload round, then jobDone says upload-failed', async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const storage = new FakeStorage();
    storage.refuseUploads = 413;
    const record = await new JobLifecycle(deps(channel, new FakeRunner(), storage), inHand()).run();
    expect(record.state).toBe('upload-failed');
    expect(record.error).toMatch(/HTTP 413/);
    expect(channel.commands('getJobOutputDir')).toHaveLength(1);
    expect(channel.commands('jobDone')[0]?.command).toMatchObject({ state: 'upload-failed' });
  });

  it("waits as a manager's sleep says before asking it again", async () => {
    const channel = new FakeChannel((_to, command) =>
      command.command === 'want_getJob' ? [[JM_FULL, { command: 'sleep' }]] : [],
    );
    const exchange = managerExchange(channel);
    const ask = () =>
      requestJob({
        exchange,
        logger: silentLogger,
        managers: [JM],
        agentHost: 'h',
        jdl: '[]',
        replyTimeoutMs: 50,
      });
    expect(await ask()).toEqual({ kind: 'no-offer' });
    const second = await ask();
    expect(second.kind).toBe('cooling-down');
    if (second.kind === 'cooling-down') {
      expect(second.until - Date.now()).toBeGreaterThan(55_000);
    }
    expect(channel.commands('want_getJob')).toHaveLength(1);
  });
});

describe('lease renewal while the container runs', () => {
  it("tells the job's manager account, with the job's jmJobData, and stops when the run ends", async () => {
    const channel = new FakeChannel(scriptedManager([]));
    const runner = new FakeRunner();
    runner.hold = true;
    const done = new JobLifecycle(
      { ...deps(channel, runner, new FakeStorage()), leaseRenewalMs: 20 },
      inHand(),
    ).run();
    for (let i = 0; i < 50 && runner.specs.length === 0; i += 1)
      await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 110));
    const renewals = channel.commands('renewLease');
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(renewals[0]).toEqual({
      to: JM,
      noack: true,
      command: {
        command: 'renewLease',
        agentHost: 'volunteer.example.org',
        jobID: 'job-1',
        jmJobData: 'lease=1',
      },
    });
    runner.release();
    await done;
    const after = channel.commands('renewLease').length;
    await new Promise((r) => setTimeout(r, 60));
    expect(channel.commands('renewLease')).toHaveLength(after);
  });
});
