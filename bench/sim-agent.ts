/**
 * A simulated Co-Pilot agent: a real CopilotSession speaking the real protocol to the real
 * manager (want_getJob, getJob, runJob, want_getJobOutputDir, getJobOutputDir,
 * storeJobOutputDir, an HTTP PUT of stdout to the manager's storage, jobDone), with the
 * container runner replaced by an in-process no-op. Many of them share one process.
 */
import http from 'node:http';
import {
  httpFileUrl,
  parseStorageAddress,
  type Command,
  type CommandMessage,
  type CommandName,
} from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import { createLogger, type Logger } from '@copilot/base/logger';

/** Shared by every simulated agent of one run. */
export interface SimCounters {
  commandsSent: number;
  commandsReceived: number;
  resends: number;
  /** Replies that came after their wait had timed out (or nobody waited for). */
  unexpected: number;
  noOffer: number;
  noJob: number;
  jobsDone: number;
  httpPuts: number;
  failures: number;
}

export function newCounters(): SimCounters {
  return {
    commandsSent: 0,
    commandsReceived: 0,
    resends: 0,
    unexpected: 0,
    noOffer: 0,
    noJob: 0,
    jobsDone: 0,
    httpPuts: 0,
    failures: 0,
  };
}

/** Stanzas routed by the server for the agents: every command and its ack, plus resends. */
export function stanzaCount(counters: SimCounters): number {
  return 2 * (counters.commandsSent + counters.commandsReceived) + counters.resends;
}

/** Per-job timings, in epoch milliseconds with sub-ms precision (see nowMs). */
export interface JobTiming {
  jobId: string;
  getJobSentAt: number;
  runJobAt: number;
  jobDoneAckedAt: number;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface SimAgentOptions {
  service: string;
  domain: string;
  username: string;
  password: string;
  resource: string;
  /** Where want_getJob is broadcast (the manager's bare JID). */
  managerAddress: string;
  /** How long to wait for have_getJob, runJob, have_getJobOutputDir, storeJobOutputDir. */
  replyTimeoutMs: number;
  /** Pause after a want_getJob nobody answered (with ±50 % jitter). */
  idleRetryMs: number;
  counters: SimCounters;
  onJobDone?: (timing: JobTiming) => void;
  httpAgent: http.Agent;
  /** Stdout "produced" by the no-op job. */
  stdout?: Buffer;
}

const HOST_JDL = `[
  Requirements = ( other.Type == "Job" );
  Version = "0";
  Platform = "Linux-x86_64";
  LocalDiskSpace = 4257288;
  WNHost = "bench-agent";
  Memory = 2048;
  Type = "machine";
  Uname = "6.0.0";
  FreeMemory = 1500;
  Swap = 0;
  FreeSwap = 0
]`;

interface Waiter {
  resolve: (message: CommandMessage | undefined) => void;
  timer: NodeJS.Timeout;
}

function counting(counters: SimCounters): Logger {
  return createLogger('sim', (record) => {
    if (record.message === 'resending') counters.resends += 1;
  });
}

export class SimAgent {
  readonly session: CopilotSession;
  private readonly waiters = new Map<CommandName, Waiter>();
  private readonly options: SimAgentOptions;
  private stopped = false;

  constructor(options: SimAgentOptions) {
    this.options = options;
    this.session = new CopilotSession({
      service: options.service,
      domain: options.domain,
      username: options.username,
      password: options.password,
      resource: options.resource,
      logger: counting(options.counters),
    });
    this.session.onCommand((message) => this.onCommand(message));
  }

  get hostName(): string {
    return `${this.options.username}-${this.options.resource}`;
  }

  start(): Promise<void> {
    return this.session.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const [name, waiter] of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
      this.waiters.delete(name);
    }
    await this.session.stop();
  }

  private onCommand(message: CommandMessage): void {
    this.options.counters.commandsReceived += 1;
    const waiter = this.waiters.get(message.command.command);
    if (!waiter) {
      this.options.counters.unexpected += 1;
      return;
    }
    clearTimeout(waiter.timer);
    this.waiters.delete(message.command.command);
    waiter.resolve(message);
  }

  /** Registers a wait for a reply before the request goes out. */
  private expect(name: CommandName): Promise<CommandMessage | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(name);
        resolve(undefined);
      }, this.options.replyTimeoutMs);
      this.waiters.set(name, { resolve, timer });
    });
  }

  private send(to: string, command: Command): Promise<string | undefined> {
    this.options.counters.commandsSent += 1;
    return this.session.send(to, command).catch(() => {
      this.options.counters.failures += 1;
      return undefined;
    });
  }

  private put(url: string, body: Buffer): Promise<number> {
    return new Promise((resolve) => {
      const request = http.request(
        url,
        {
          method: 'PUT',
          agent: this.options.httpAgent,
          headers: { 'content-length': String(body.length) },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', () => resolve(0));
      request.end(body);
    });
  }

  /** One job cycle; 'no-offer' when no manager answered want_getJob. */
  async cycle(): Promise<'done' | 'no-offer' | 'no-job' | 'failed'> {
    const { counters, managerAddress } = this.options;
    const agentHost = this.hostName;
    const offer = this.expect('have_getJob');
    void this.send(managerAddress, { command: 'want_getJob', agentHost, jdl: HOST_JDL });
    const have = await offer;
    if (!have) {
      counters.noOffer += 1;
      return 'no-offer';
    }
    const manager = have.from;
    const runJobReply = this.expect('runJob');
    const getJobSentAt = nowMs();
    void this.send(manager, { command: 'getJob', agentHost, jdl: HOST_JDL });
    const run = await runJobReply;
    const runJobAt = nowMs();
    if (run?.command.command !== 'runJob') {
      counters.noJob += 1;
      return 'no-job';
    }
    const { job } = run.command;
    let jmJobData = run.command.jmJobData;

    // The job itself: an in-process no-op.

    const haveDir = this.expect('have_getJobOutputDir');
    void this.send(managerAddress, {
      command: 'want_getJobOutputDir',
      agentHost,
      jobID: job.id,
      ...(jmJobData !== undefined ? { jmJobData } : {}),
    });
    const haveDirReply = await haveDir;
    if (!haveDirReply) return this.fail();
    const store = this.expect('storeJobOutputDir');
    void this.send(haveDirReply.from, {
      command: 'getJobOutputDir',
      agentHost,
      jobID: job.id,
      ...(jmJobData !== undefined ? { jmJobData } : {}),
    });
    const stored = await store;
    if (stored?.command.command !== 'storeJobOutputDir') return this.fail();
    if (stored.command.jmJobData !== undefined) jmJobData = stored.command.jmJobData;
    const address = parseStorageAddress(stored.command.outputChirpUrl, stored.command.outputDir);
    if (address.kind !== 'http') return this.fail();
    const status = await this.put(
      httpFileUrl(address, 'stdout'),
      this.options.stdout ?? Buffer.from(`job ${job.id} done\n`),
    );
    counters.httpPuts += 1;
    if (status < 200 || status >= 300) return this.fail();
    const acked = await this.send(stored.from, {
      command: 'jobDone',
      exitCode: 0,
      agentHost,
      state: 'done',
      jobID: job.id,
      ...(jmJobData !== undefined ? { jmJobData } : {}),
    });
    if (acked === undefined) return this.fail();
    counters.jobsDone += 1;
    this.options.onJobDone?.({ jobId: job.id, getJobSentAt, runJobAt, jobDoneAckedAt: nowMs() });
    return 'done';
  }

  private fail(): 'failed' {
    this.options.counters.failures += 1;
    return 'failed';
  }

  /** Runs job cycles until shouldContinue() says no or stop() is called. */
  async loop(shouldContinue: () => boolean): Promise<void> {
    while (!this.stopped && shouldContinue()) {
      const outcome = await this.cycle();
      if (outcome === 'done' || this.stopped || !shouldContinue()) continue;
      const jitter = 0.5 + Math.random();
      await new Promise((resolve) => setTimeout(resolve, this.options.idleRetryMs * jitter));
    }
  }
}
