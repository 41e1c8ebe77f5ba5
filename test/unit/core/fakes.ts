// Test doubles for the agent core's unit tests: an in-memory XMPP channel with a scripted
// manager, a runner that does not need Docker, and a storage client backed by maps.
import fs from 'node:fs';
import type { Command, JobDescription } from '@copilot/protocol/commands';
import { ManagerExchange, type ProtocolChannel } from '@copilot/core/manager-exchange';
import { ManagerTrust } from '@copilot/core/manager-trust';
import { silentLogger } from '@copilot/base/logger';
import { SerialLock } from '@copilot/base/serial-lock';
import type { SharedLifecycleDeps } from '@copilot/core/job-slots';
import {
  AgentStoppingError,
  type JobRunner,
  type RunOutcome,
  type RunSpec,
} from '@copilot/core/docker-runner';
import type { ContainerLimits } from '@copilot/core/resource-policy';
import type { StorageClient } from '@copilot/core/storage-transfer';
import { TransferError } from '@copilot/core/storage-transfer';

export interface Sent {
  to: string;
  command: Command;
  noack: boolean;
}

type Responder = (
  to: string,
  command: Command,
) => Array<[from: string, reply: Command]> | undefined;

export class FakeChannel implements ProtocolChannel {
  online = true;
  readonly sent: Sent[] = [];
  readonly unreachable = new Set<string>();
  private readonly handlers = new Set<(from: string, command: Command) => void>();

  constructor(private readonly responder: Responder) {}

  send(to: string, command: Command): Promise<void> {
    this.sent.push({ to, command, noack: false });
    if (this.unreachable.has(to)) return Promise.reject(new Error(`no acknowledgement from ${to}`));
    const replies = this.responder(to, command) ?? [];
    setImmediate(() => {
      for (const [from, reply] of replies) this.deliver(from, reply);
    });
    return Promise.resolve();
  }

  notify(to: string, command: Command): void {
    this.sent.push({ to, command, noack: true });
  }

  onCommand(handler: (from: string, command: Command) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  deliver(from: string, command: Command): void {
    for (const handler of this.handlers) handler(from, command);
  }

  commands(name: string): Sent[] {
    return this.sent.filter((entry) => entry.command.command === name);
  }
}

export const JM = 'jm@localhost';
export const JM_FULL = 'jm@localhost/generic';

/** An exchange that trusts the managers given (default JM) and nobody else. */
export function managerExchange(channel: ProtocolChannel, managers = [JM]): ManagerExchange {
  return new ManagerExchange(channel, new ManagerTrust(() => managers, silentLogger), silentLogger);
}

export function jobDescription(overrides: Partial<JobDescription> = {}): JobDescription {
  return {
    id: 'job-1',
    command: 'calculator.sh',
    arguments: '1 2',
    environment: 'A=b',
    packages: '',
    inputFiles: 'calculator.sh',
    chirpUrl: 'http://127.0.0.1:8088',
    inputDir: '/storage/job-1/input/tok',
    outputDir: '/storage/job-1/output/tok',
    ...overrides,
  };
}

/** A manager that answers every step of the cycle, handing out `jobs` one by one. */
export function scriptedManager(
  jobs: JobDescription[],
  options: { requireFile?: string } = {},
): Responder {
  return (to, command) => {
    switch (command.command) {
      case 'want_getJob':
        if (jobs.length === 0) return [];
        return [
          [
            JM_FULL,
            options.requireFile
              ? { command: 'have_getJob', requireFile: options.requireFile }
              : { command: 'have_getJob' },
          ],
        ];
      case 'getJob': {
        const job = jobs.shift();
        return job && to === JM_FULL
          ? [[JM_FULL, { command: 'runJob', job, jmJobData: 'lease=1' }]]
          : [];
      }
      case 'want_getJobOutputDir':
        return [[JM_FULL, { command: 'have_getJobOutputDir' }]];
      case 'getJobOutputDir':
        return [
          [
            JM_FULL,
            {
              command: 'storeJobOutputDir',
              outputChirpUrl: 'http://127.0.0.1:8088',
              outputDir: `/storage/${command.jobID}/output/tok2`,
              jobID: command.jobID,
              jmJobData: 'lease=2',
            },
          ],
        ];
      default:
        return [];
    }
  };
}

export class FakeRunner implements JobRunner {
  readonly specs: RunSpec[] = [];
  readonly calls: string[] = [];
  outcome: Partial<RunOutcome> = {};
  /** When set, run() waits for release(). */
  hold = false;
  private releases: Array<() => void> = [];

  /** Jobs whose container an earlier run left (hasContainer); a stopped held run leaves one. */
  readonly containers = new Set<string>();
  /** Called as the job runs, with what it sees. */
  onRun: ((spec: RunSpec) => void) | undefined;

  async run(
    spec: RunSpec,
    onStarted?: (containerId: string, startedAt: string) => void,
  ): Promise<RunOutcome> {
    this.specs.push(spec);
    this.calls.push(`run ${spec.jobId}${spec.adopt === true ? ' adopt' : ''}`);
    onStarted?.(`container-${spec.jobId}`, new Date().toISOString());
    fs.writeFileSync(spec.stdoutPath, '4\n');
    this.onRun?.(spec);
    if (this.hold) {
      const stopped = await new Promise<boolean>((resolve) => {
        this.releases.push(() => resolve(false));
        spec.signal?.addEventListener('abort', () => resolve(true), { once: true });
      });
      if (stopped) {
        this.containers.add(spec.jobId);
        throw new AgentStoppingError();
      }
    }
    this.containers.delete(spec.jobId);
    const now = new Date().toISOString();
    return {
      exitCode: 0,
      state: 'done',
      cpuSeconds: 1.5,
      startedAt: now,
      finishedAt: now,
      ...this.outcome,
    };
  }

  release(): void {
    for (const resolve of this.releases.splice(0)) resolve();
  }

  pause(jobId: string): Promise<void> {
    this.calls.push(`pause ${jobId}`);
    return Promise.resolve();
  }

  resume(jobId: string): Promise<void> {
    this.calls.push(`resume ${jobId}`);
    return Promise.resolve();
  }

  update(jobId: string, limits: ContainerLimits): Promise<void> {
    this.calls.push(`update ${jobId} ${limits.nanoCpus}`);
    return Promise.resolve();
  }

  cpuSeconds(): number {
    return 0;
  }

  hasContainer(jobId: string): Promise<boolean> {
    return Promise.resolve(this.containers.has(jobId));
  }

  cleanup(): Promise<void> {
    return Promise.resolve();
  }

  sweep(): Promise<number> {
    return Promise.resolve(0);
  }

  killAll(): Promise<void> {
    this.calls.push('killAll');
    this.release();
    return Promise.resolve();
  }
}

export class FakeStorage implements StorageClient {
  readonly inputs = new Map<string, string>([['calculator.sh', '#!/bin/bash\necho "2+2" | bc\n']]);
  readonly uploads = new Map<string, string>();
  failUploads = 0;
  /** Downloads that fail as if the storage were down (connection refused) before one works. */
  unreachableDownloads = 0;
  downloadCalls = 0;
  /** Answer every download / upload with this HTTP status, e.g. 403 for a lease that is gone. */
  refuseDownloads: number | undefined;
  refuseUploads: number | undefined;

  download(
    _base: string,
    _dir: string,
    file: string,
    destination: string,
    maxBytes: number,
  ): Promise<number> {
    this.downloadCalls += 1;
    if (this.unreachableDownloads > 0) {
      this.unreachableDownloads -= 1;
      return Promise.reject(TransferError.unreachable(`download of ${file} failed: ECONNREFUSED`));
    }
    if (this.refuseDownloads !== undefined) {
      const status = this.refuseDownloads;
      return Promise.reject(
        new TransferError(`download of ${file} failed: HTTP ${status}`, status),
      );
    }
    const text = this.inputs.get(file);
    if (text === undefined)
      return Promise.reject(new TransferError(`download of ${file} failed: HTTP 404`, 404));
    if (text.length > maxBytes)
      return Promise.reject(new TransferError(`input ${file} is over the disk cap`));
    fs.writeFileSync(destination, text);
    return Promise.resolve(text.length);
  }

  upload(_base: string, directory: string, file: string, source: string): Promise<number> {
    if (this.refuseUploads !== undefined) {
      const status = this.refuseUploads;
      return Promise.reject(new TransferError(`upload of ${file} failed: HTTP ${status}`, status));
    }
    if (this.failUploads > 0) {
      this.failUploads -= 1;
      return Promise.reject(new TransferError(`upload of ${file} failed: HTTP 503`, 503));
    }
    const text = fs.readFileSync(source, 'utf8');
    this.uploads.set(`${directory}/${file}`, text);
    return Promise.resolve(text.length);
  }
}

/**
 * What every lifecycle shares, for tests of the parts that start lifecycles: a scripted manager
 * that answers nothing, fake storage, short time outs. Tests override what they are about.
 */
export function sharedLifecycleDeps(
  parts: Pick<SharedLifecycleDeps, 'runner' | 'store' | 'limits'> & Partial<SharedLifecycleDeps>,
): SharedLifecycleDeps {
  return {
    exchange: managerExchange(new FakeChannel(scriptedManager([]))),
    storage: new FakeStorage(),
    logger: silentLogger,
    handshakeLock: new SerialLock(),
    agentHost: 'volunteer.example.org',
    mayRun: () => true,
    image: 'copilot-job:latest',
    wallClockLimitMs: 60_000,
    allowJobNetwork: () => false,
    replyTimeoutMs: 200,
    leaseRenewalMs: 60_000,
    retry: { initialMs: 5, maxMs: 20, jitter: 0 },
    maxUploadAttempts: 3,
    resultRetentionMs: 60_000,
    ...parts,
  };
}
