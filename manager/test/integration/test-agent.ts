/**
 * A minimal protocol-speaking agent for the manager's integration tests: a real CopilotSession,
 * real HTTP downloads and uploads, and the job "run" by `bash <command>` via execFile (argv
 * array, no shell string). Redirects are followed automatically, as the real agent does.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  httpFileUrl,
  jdlNumber,
  jdlString,
  serializeJdl,
  splitList,
  type Command,
  type CommandMessage,
  type CommandName,
  type CommandOf,
  type JdlRecord,
} from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';

export interface TestAgentOptions {
  service: string;
  domain: string;
  username: string;
  password: string;
  resource?: string;
  memory?: number;
}

export interface ReceivedCommand<N extends CommandName> {
  from: string;
  id: string;
  command: CommandOf<N>;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class TestAgent {
  readonly session: CopilotSession;
  readonly received: CommandMessage[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-agent-'));
  readonly jdl: string;

  constructor(private readonly options: TestAgentOptions) {
    this.session = new CopilotSession({
      service: options.service,
      domain: options.domain,
      username: options.username,
      password: options.password,
      resource: options.resource ?? 'agent',
      ackTimeoutMs: 1000,
    });
    const record: JdlRecord = [
      ['Platform', jdlString('Linux-x86_64')],
      ['Memory', jdlNumber(options.memory ?? 1010)],
      ['LocalDiskSpace', jdlNumber(4257288)],
      ['WNHost', jdlString('test-agent.local')],
      ['Type', jdlString('machine')],
    ];
    this.jdl = serializeJdl(record);
    this.session.onCommand((message) => {
      if (message.command.command === 'redirect') {
        // 2.2.4: pass the inner command on to the referral.
        void this.session
          .send(message.command.referral, message.command.info)
          .catch(() => undefined);
      }
      this.received.push(message);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  async start(): Promise<void> {
    await this.session.start();
  }

  async stop(): Promise<void> {
    await this.session.stop();
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Waits for (and consumes) the next received command called `name`. */
  async waitFor<N extends CommandName>(name: N, timeoutMs = 10_000): Promise<ReceivedCommand<N>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((message) => message.command.command === name);
      if (index >= 0) {
        const [message] = this.received.splice(index, 1);
        if (message) {
          return { from: message.from, id: message.id, command: message.command as CommandOf<N> };
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`test agent: no ${name} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** True when a command called `name` arrives within `ms`. */
  async receives(name: CommandName, ms: number): Promise<boolean> {
    try {
      await this.waitFor(name, ms);
      return true;
    } catch {
      return false;
    }
  }

  send(to: string, command: Command, id?: string): Promise<string> {
    return this.session.send(to, command, id === undefined ? {} : { id });
  }

  /** want_getJob → have_getJob → getJob → runJob. Returns the runJob and who sent it. */
  async fetchJob(manager: string): Promise<ReceivedCommand<'runJob'>> {
    await this.send(manager, {
      command: 'want_getJob',
      agentHost: 'test-agent.local',
      jdl: this.jdl,
    });
    const have = await this.waitFor('have_getJob');
    await this.send(have.from, { command: 'getJob', agentHost: 'test-agent.local', jdl: this.jdl });
    return this.waitFor('runJob');
  }

  /** Downloads the inputs and runs `bash <command> <arguments…>` in a fresh directory. */
  async runJob(runJob: CommandOf<'runJob'>): Promise<RunResult> {
    const job = runJob.job;
    const dir = fs.mkdtempSync(path.join(this.workDir, 'job-'));
    for (const file of splitList(job.inputFiles)) {
      const url = httpFileUrl({ baseUrl: job.chirpUrl, directory: job.inputDir }, file);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
      fs.writeFileSync(path.join(dir, file), Buffer.from(await response.arrayBuffer()));
    }
    return new Promise((resolve) => {
      execFile(
        'bash',
        [job.command, ...splitList(job.arguments)],
        { cwd: dir, timeout: 30_000 },
        (error, stdout, stderr) => {
          const code = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
          resolve({ stdout, stderr, exitCode: code });
        },
      );
    });
  }

  /**
   * want_getJobOutputDir → have_getJobOutputDir → getJobOutputDir → storeJobOutputDir, then PUT
   * each output to `<outputChirpUrl><outputDir>/<name>`.
   */
  async uploadOutputs(
    manager: string,
    runJob: CommandOf<'runJob'>,
    outputs: Record<string, string>,
  ): Promise<ReceivedCommand<'storeJobOutputDir'>> {
    const ask = {
      agentHost: 'test-agent.local',
      jobID: runJob.job.id,
      jmJobData: runJob.jmJobData,
    };
    await this.send(manager, { command: 'want_getJobOutputDir', ...ask });
    const have = await this.waitFor('have_getJobOutputDir');
    await this.send(have.from, { command: 'getJobOutputDir', ...ask });
    const store = await this.waitFor('storeJobOutputDir');
    for (const [name, content] of Object.entries(outputs)) {
      const url = httpFileUrl(
        { baseUrl: store.command.outputChirpUrl, directory: store.command.outputDir },
        name,
      );
      const response = await fetch(url, { method: 'PUT', body: content });
      if (response.status !== 201) throw new Error(`PUT ${url} answered ${response.status}`);
    }
    return store;
  }

  jobDone(
    manager: string,
    runJob: CommandOf<'runJob'>,
    exitCode: number,
    state = 'done',
  ): Promise<string> {
    return this.send(manager, {
      command: 'jobDone',
      agentHost: 'test-agent.local',
      jobID: runJob.job.id,
      exitCode,
      state,
      jmJobData: runJob.jmJobData,
    });
  }

  /** The whole cycle against one manager address. */
  async runOneJob(
    manager: string,
  ): Promise<{ runJob: ReceivedCommand<'runJob'>; result: RunResult }> {
    const runJob = await this.fetchJob(manager);
    const result = await this.runJob(runJob.command);
    await this.uploadOutputs(runJob.from, runJob.command, {
      stdout: result.stdout,
      stderr: result.stderr,
    });
    await this.jobDone(runJob.from, runJob.command, result.exitCode);
    return { runJob, result };
  }
}
