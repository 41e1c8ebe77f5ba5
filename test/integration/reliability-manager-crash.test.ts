/**
 * No job lost or done twice when the job manager is killed with SIGKILL at random points of the
 * job cycle. The manager is the real copilot-jobmanager-generic process (SQLite, then Redis); the
 * agent is a scripted one that keeps its job across manager restarts and resumes the cycle, as
 * a real agent does. Leases are short, so interrupted jobs also come back through expiry.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import type { JobQueue } from '@manager/job-manager/job-queue';
import { openJobQueue } from '@manager/job-manager/open-job-queue';
import { submitJob } from '@manager/job-manager/job-submission';
import type { RunJob, StoreJobOutputDir } from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import { ScriptedAgent } from '@test/fixtures/hostile/scripted-agent';
import {
  REPO_ROOT,
  freePort,
  startProcess,
  startTestXmppServer,
  startRedis,
  type XmppServer,
  type RedisServer,
  type ServiceProcess,
} from '@test/harness';
import { localManagerValues } from './local-settings';

const JOBS = 8;
const BACKENDS = [
  { backend: 'sqlite', iterations: 14 },
  { backend: 'redis', iterations: 8 },
] as const;
const STEP_TIMEOUT_MS = 2_500;

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe.each(BACKENDS)(
  'kill -9 of the job manager ($backend queue)',
  ({ backend, iterations }) => {
    let prosody: XmppServer;
    let redis: RedisServer | undefined;
    let root: string;
    let stateDir: string;
    let storagePort: number;
    let queue: JobQueue;
    let agentSession: CopilotSession;
    let agent: ScriptedAgent;
    const processes: ServiceProcess[] = [];
    const submitted: string[] = [];

    const startManager = async (): Promise<ServiceProcess> => {
      const proc = await startProcess({
        name: 'jobmanager',
        command: process.execPath,
        args: [
          '--import',
          'tsx',
          path.join(REPO_ROOT, 'manager/bin/copilot-jobmanager-generic.ts'),
        ],
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          ...localManagerValues(prosody, stateDir, {
            JM_STORAGE_PORT: String(storagePort),
            JM_LEASE_SECONDS: '3',
            // The logs are this test's evidence of "exactly once": no line may wait in a batch
            // when the manager is killed.
            JM_LOG_BATCH_MS: '0',
            ...(redis ? { JM_REDIS_SERVER: redis.url } : {}),
          }),
        },
        readyTimeoutMs: 30_000,
        ready: async (started, signal) => {
          while (!signal.aborted && !/job manager started/.test(started.logTail(200))) {
            await sleep(50);
          }
        },
      });
      processes.push(proc);
      return proc;
    };

    beforeAll(async () => {
      prosody = await startTestXmppServer({
        users: [
          { username: 'jm', password: 'jm-secret' },
          { username: 'agent', password: 'agent-secret' },
        ],
      });
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-jm-crash-'));
      stateDir = path.join(root, 'state');
      fs.mkdirSync(stateDir, { recursive: true });
      storagePort = await freePort();
      if (backend === 'redis') redis = await startRedis({ persistent: true });
      queue = await openJobQueue({
        queueDb: path.join(stateDir, 'queue.sqlite'),
        waitingJobsList: 'waiting-jobs',
        ...(redis ? { redisServer: redis.url } : {}),
      });
      const paths = new JobStorePaths(path.join(stateDir, 'storage'));
      const commandFile = path.join(root, 'job.sh');
      fs.writeFileSync(commandFile, '#!/bin/sh\necho hi\n');
      for (let index = 0; index < JOBS; index += 1) {
        submitted.push((await submitJob(queue, paths, { commandFile })).id);
      }
      agentSession = new CopilotSession({
        service: prosody.service,
        domain: prosody.domain,
        username: 'agent',
        password: 'agent-secret',
        resource: 'scripted',
        ackTimeoutMs: 300,
        maxSendAttempts: 4,
      });
      await agentSession.start();
      agent = new ScriptedAgent(agentSession, `jm@${prosody.domain}`);
    });

    afterAll(async () => {
      await agentSession?.stop();
      for (const proc of processes) await proc.kill9().catch(() => undefined);
      await queue?.close();
      await prosody?.stop();
      await redis?.stop();
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it(`${iterations} crashes, then every job is done exactly once`, async () => {
      let held: { runJob: RunJob; store?: StoreJobOutputDir } | undefined;

      /** The job cycle from wherever the agent stands, one step per call. */
      const steps = (): Array<() => Promise<void>> => {
        const outputDir = async (): Promise<void> => {
          if (!held) return;
          held.store = await agent.outputDir(held.runJob, STEP_TIMEOUT_MS);
        };
        const upload = async (): Promise<void> => {
          if (!held?.store) return;
          const status = await agent.upload(
            held.store,
            'result.txt',
            `result of ${held.runJob.job.id}\n`,
          );
          if (status >= 300) throw new Error(`upload answered ${status}`);
        };
        const done = async (): Promise<void> => {
          if (!held) return;
          await agent.jobDone(held.runJob);
          held = undefined;
        };
        if (held) return [outputDir, upload, done];
        return [
          () => agent.wantJob(STEP_TIMEOUT_MS),
          async () => {
            held = { runJob: await agent.getJob(STEP_TIMEOUT_MS) };
          },
          outputDir,
          upload,
          done,
        ];
      };

      for (let iteration = 0; iteration < iterations; iteration += 1) {
        const manager = await startManager();
        agent.clearInbox();
        const plan = steps();
        // Every kill point in turn (the last one: after the cycle), with a random delay inside it.
        const killAt = iteration % (plan.length + 1);
        for (let index = 0; index < plan.length; index += 1) {
          const step = plan[index];
          if (!step) break;
          if (index === killAt) {
            // Kill while this step is in flight; its retransmissions may reach the next manager.
            step().catch(() => undefined);
            await sleep(Math.random() * 150);
            break;
          }
          try {
            await step();
          } catch {
            // The manager refused (e.g. the lease expired during a restart): give the job up.
            held = undefined;
            break;
          }
        }
        await manager.kill9();
        const states = (await queue.list()).map((job) => job.state);
        expect(states.every((state) => state !== 'failed' && state !== 'cancelled')).toBe(true);
      }

      // Last manager: drain the queue. Abandoned leases expire and come back.
      const finalManager = await startManager();
      held = undefined;
      const deadline = Date.now() + 90_000;
      for (;;) {
        const jobs = await queue.list();
        if (jobs.every((job) => job.state === 'done')) break;
        if (Date.now() > deadline) {
          throw new Error(`not drained: ${jobs.map((job) => `${job.id}=${job.state}`).join(', ')}`);
        }
        agent.clearInbox();
        try {
          for (const step of steps()) await step();
        } catch {
          held = undefined;
          await sleep(300);
        }
      }
      await finalManager.stop();

      const jobs = await queue.list();
      expect(jobs.map((job) => job.id).sort()).toEqual([...submitted].sort());
      expect(jobs.every((job) => job.state === 'done' && job.exitCode === 0)).toBe(true);
      // Exactly once: one 'job finished' across every manager process, one archive per job.
      const finished = new Map<string, number>();
      for (const proc of processes) {
        const log = fs.readFileSync(proc.logPath, 'utf8');
        for (const match of log.matchAll(/job finished job=(\S+)/g)) {
          const id = match[1] ?? '';
          finished.set(id, (finished.get(id) ?? 0) + 1);
        }
      }
      for (const id of submitted) expect(finished.get(id), id).toBe(1);
      expect(fs.readdirSync(path.join(stateDir, 'done')).sort()).toEqual([...submitted].sort());
    }, 170_000);
  },
);
