/**
 * Starts the real manager (bench/manager-child.ts, bundled to plain node) as a child process
 * against a harness Prosody, with the embedded SQLite queue or Redis, and toggles its CPU
 * profiler with SIGUSR2.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startProcess, type ProsodyServer, type ServiceProcess } from '@test/harness';
import { openJobQueue } from '@manager/job-manager/open-job-queue';
import type { JobQueue } from '@manager/job-manager/job-queue';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { bundleEntry } from './lib/bundle';
import { sleep } from './lib/stats';

export interface ManagerProcess {
  readonly process: ServiceProcess;
  readonly jid: string;
  readonly stateDir: string;
  /** A queue handle on the same store, for submitting and checking jobs from the bench. */
  readonly queue: JobQueue;
  readonly paths: JobStorePaths;
  /** Starts the profiler; the returned function stops it and resolves with the profile path. */
  startProfile(): () => Promise<string | undefined>;
  stop(): Promise<void>;
}

let childScript: Promise<string> | undefined;

export async function startManagerProcess(options: {
  /** The XMPP server (Prosody, an ejabberd node): its c2s port and domain. */
  prosody: Pick<ProsodyServer, 'port' | 'domain'>;
  username: string;
  password: string;
  redisUrl?: string;
  profileDir: string;
  /**
   * JM_STORAGE_DIR and JM_DONE_JOB_DIR shared with other managers on one Redis queue (an
   * agent's output may reach another manager than the one that gave it the job).
   */
  sharedDir?: string;
  /** The XMPP resource; default `jobmanager`. */
  resource?: string;
}): Promise<ManagerProcess> {
  childScript ??= bundleEntry('bench/manager-child.ts', 'manager-child');
  const script = await childScript;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-bench-jm-'));
  const storagePort = await freePort();
  const profileBase = path.join(options.profileDir, `manager-${Date.now()}`);
  fs.mkdirSync(options.profileDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JM_JABBER_SERVER: `127.0.0.1:${options.prosody.port}`,
    JM_JABBER_DOMAIN: options.prosody.domain,
    JM_JABBER_ID: options.username,
    JM_JABBER_PASSWORD: options.password,
    JM_JABBER_RESOURCE: options.resource ?? 'jobmanager',
    JM_STATE_DIR: stateDir,
    JM_STORAGE_PORT: String(storagePort),
    JM_STORAGE_BIND: '127.0.0.1',
    JM_STORAGE_URL: `http://127.0.0.1:${storagePort}`,
    // 1,000 simulated agents share 50 accounts (20 resources each): no cap on leases per account.
    JM_MAX_LEASES_PER_AGENT: '0',
    // ...and all upload from one address, without the real agent's retry of a 503.
    JM_STORAGE_MAX_CONNECTIONS_PER_CLIENT: '4096',
    BENCH_CPU_PROFILE: profileBase,
  };
  delete env.COPILOT_JM_CONFIG;
  if (options.sharedDir) {
    env.JM_STORAGE_DIR = path.join(options.sharedDir, 'storage');
    env.JM_DONE_JOB_DIR = path.join(options.sharedDir, 'done');
  }
  if (options.redisUrl) env.JM_REDIS_SERVER = options.redisUrl;
  else delete env.JM_REDIS_SERVER;
  const proc = await startProcess({
    name: 'bench-manager',
    command: process.execPath,
    args: [script],
    cwd: stateDir,
    env,
    readyTimeoutMs: 30_000,
    ready: async (self, signal) => {
      while (!signal.aborted) {
        if (self.logTail(400).includes('job manager started')) return;
        await sleep(50);
      }
    },
  });
  const queue = await openJobQueue({
    queueDb: path.join(stateDir, 'queue.sqlite'),
    redisServer: options.redisUrl,
    waitingJobsList: 'waiting-jobs',
  });
  const paths = new JobStorePaths(path.join(options.sharedDir ?? stateDir, 'storage'));
  let profiles = 0;
  return {
    process: proc,
    jid: `${options.username}@${options.prosody.domain}`,
    stateDir,
    queue,
    paths,
    startProfile() {
      process.kill(proc.pid, 'SIGUSR2');
      profiles += 1;
      const file = `${profileBase}.${profiles}.cpuprofile`;
      return async () => {
        process.kill(proc.pid, 'SIGUSR2');
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          if (fs.existsSync(file)) return file;
          await sleep(100);
        }
        return undefined;
      };
    },
    async stop() {
      await queue.close().catch(() => undefined);
      await proc.stop(10_000);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
