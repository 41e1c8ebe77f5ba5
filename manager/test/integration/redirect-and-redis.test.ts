/**
 * Two manager instances: a job manager that redirects output and jobDone to a storage manager
 * (--role storage), over a shared store. The Redis backend runs the queue contract and the
 * full cycle against a real redis-server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestXmppServer, startRedis, type XmppServer, type RedisServer } from '@test/harness';
import type { JobQueue } from '@manager/job-manager/job-queue';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { submitJob } from '@manager/job-manager/job-submission';
import { RedisJobQueue } from '@manager/job-manager/redis-job-queue';
import { describeQueueContract } from '@manager/test/support/queue-contract';
import {
  eventually,
  extractDoneArchive,
  managerConfig,
  PASSWORD,
  REPO_CALCULATOR,
  tempDir,
} from './manager-fixture';
import { TestAgent } from './test-agent';

let prosody: XmppServer;
let redis: RedisServer;
const running: Array<{ stop(): Promise<void> }> = [];

function track<T extends { stop(): Promise<void> }>(thing: T): T {
  running.push(thing);
  return thing;
}

beforeAll(async () => {
  [prosody, redis] = await Promise.all([
    startTestXmppServer({
      users: ['jm', 'storage', 'jm2', 'agent1', 'agent2'].map((username) => ({
        username,
        password: PASSWORD,
      })),
    }),
    startRedis(),
  ]);
});

afterEach(async () => {
  for (const thing of running.splice(0).reverse()) await thing.stop();
});

afterAll(async () => {
  await prosody?.stop();
  await redis?.stop();
});

async function agent(name: string): Promise<TestAgent> {
  const created = new TestAgent({
    service: prosody.service,
    domain: prosody.domain,
    username: name,
    password: PASSWORD,
  });
  await created.start();
  return track(created);
}

let namespaceCounter = 0;
function namespace(): string {
  namespaceCounter += 1;
  return `test${process.pid}-${namespaceCounter}:`;
}

describeQueueContract('Redis', {
  open: () => {
    const ns = namespace();
    return Promise.resolve(
      new RedisJobQueue({
        server: `127.0.0.1:${redis.port}`,
        namespace: ns,
        waitingList: `${ns}waiting-jobs`,
      }),
    );
  },
  reopen: (queue: JobQueue) => {
    if (!(queue instanceof RedisJobQueue)) throw new Error('not a Redis queue');
    return Promise.resolve(new RedisJobQueue(queue.options));
  },
});

describe('redirect to a storage manager', () => {
  it('hands output and jobDone to a second manager instance that finalises the job', async () => {
    const stateDir = tempDir('jm-redirect-');
    const storageJid = `${prosody.jid('storage')}/storage`;
    const storage = track(
      await startJobManager(managerConfig(prosody, 'storage', stateDir, { JM_ROLE: 'storage' })),
    );
    const jm = track(
      await startJobManager(
        managerConfig(prosody, 'jm', stateDir, { JM_STORAGE_MANAGER_ADDRESS: storageJid }),
      ),
    );
    expect(storage.jid).toBe(storageJid);
    await submitJob(jm.queue, new JobStorePaths(jm.config.storageDir), {
      commandFile: REPO_CALCULATOR,
    });

    // A storage manager does not hand out jobs.
    const worker = await agent('agent1');
    await worker.send(storage.jid, { command: 'want_getJob', agentHost: 'a', jdl: worker.jdl });
    expect(await worker.receives('have_getJob', 1000)).toBe(false);

    const runJob = await worker.fetchJob(jm.jid);
    expect(runJob.from).toBe(jm.jid);
    const result = await worker.runJob(runJob.command);
    const store = await worker.uploadOutputs(jm.jid, runJob.command, {
      stdout: result.stdout,
      stderr: result.stderr,
    });
    // want_getJobOutputDir was redirected: storeJobOutputDir comes from the storage manager,
    // with its own storage URL.
    expect(store.from).toBe(storageJid);
    expect(store.command.outputChirpUrl).toBe(storage.storageUrl);
    expect(store.command.outputChirpUrl).not.toBe(jm.storageUrl);
    // The job manager does not accept outputs itself.
    const direct = await fetch(`${jm.storageUrl}${store.command.outputDir}/stdout`, {
      method: 'PUT',
      body: 'x',
    });
    expect(direct.status).toBe(404);

    await worker.jobDone(jm.jid, runJob.command, result.exitCode);
    const id = runJob.command.job.id;
    await eventually(
      async () => ((await storage.queue.get(id))?.state === 'done' ? true : undefined),
      'job done',
    );
    const done = path.join(stateDir, 'done');
    await extractDoneArchive(done, id);
    expect(fs.readFileSync(path.join(done, id, id, 'stdout'), 'utf8')).toBe('4\n');
    expect(fs.readFileSync(path.join(done, id, 'stdout'), 'utf8')).toBe('4\n');
  });
});

describe('Redis-backed managers', () => {
  async function redisManager(
    user: string,
    stateDir: string,
    ns: string,
  ): Promise<RunningJobManager> {
    const config = managerConfig(prosody, user, stateDir, {
      JM_REDIS_SERVER: `127.0.0.1:${redis.port}`,
      JM_WAITING_JOBS_LIST: `${ns}waiting-jobs`,
    });
    return track(await startJobManager(config, { redisNamespace: ns }));
  }

  it('two managers share one Redis queue: each job is run exactly once', async () => {
    const stateDir = tempDir('jm-redis-');
    const ns = namespace();
    const one = await redisManager('jm', stateDir, ns);
    const two = await redisManager('jm2', stateDir, ns);
    expect(one.queue.backend).toBe('redis');
    const paths = new JobStorePaths(one.config.storageDir);
    const submitted = [
      await submitJob(one.queue, paths, { commandFile: REPO_CALCULATOR }),
      await submitJob(two.queue, paths, { commandFile: REPO_CALCULATOR }),
    ];
    const a = await agent('agent1');
    const b = await agent('agent2');
    const results = await Promise.all([a.runOneJob(one.jid), b.runOneJob(two.jid)]);
    const ids = results.map((r) => r.runJob.command.job.id).sort();
    expect(ids).toEqual(submitted.map((job) => job.id).sort());
    for (const id of ids) {
      await eventually(
        async () => ((await one.queue.get(id))?.state === 'done' ? true : undefined),
        `job ${id} done`,
      );
      expect(fs.readFileSync(path.join(stateDir, 'done', id, 'stdout'), 'utf8')).toBe('4\n');
    }
    expect(await two.queue.countQueued()).toBe(0);
    // A third request finds the shared queue empty.
    await a.send(one.jid, { command: 'want_getJob', agentHost: 'a', jdl: a.jdl });
    expect(await a.receives('have_getJob', 1000)).toBe(false);
  });

  it('fails loudly when the Redis server cannot be reached', async () => {
    const config = managerConfig(prosody, 'jm', tempDir('jm-noredis-'), {
      JM_REDIS_SERVER: '127.0.0.1:1',
    });
    await expect(startJobManager(config)).rejects.toThrow(/cannot reach Redis/);
  });
});
