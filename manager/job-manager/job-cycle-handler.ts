/**
 * The manager's side of the job cycle (2.2.1–2.2.4): one handler per command, each idempotent
 * because agents resend after crashes and every fact lives in the job store.
 *
 * - want_getJob: have_getJob (with requireFile) only when a queued job matches the agent's JDL.
 * - getJob: leases the first matching queued job, in the queue's fair-share order (owners by
 *   usage / share, then priority, then seq: fair-share.ts), and answers runJob; a lease the
 *   store refuses (another manager's, or the owner at JM_OWNER_MAX_RUNNING) moves on to the
 *   next candidate. The lease is keyed by
 *   `<agent JID>|<message id>`, so a resent getJob gets the same job and the same tokens.
 * - want_getJobOutputDir / getJobOutputDir: renew the lease; storeJobOutputDir gives the output
 *   URL. jobDone: archives the outputs into JM_DONE_JOB_DIR and records state and exit code; a
 *   repeated jobDone is a no-op.
 * - With JM_STORAGE_MANAGER_ADDRESS the last three are answered with `redirect` instead.
 * - Storage is HTTP (storage-server.ts), or Chirp with JM_CHIRP_* (chirp-job-dirs.ts: its
 *   directories are made at lease time and emptied into the local output dir at jobDone). An
 *   agent may send one `<jobId>.tgz` instead of separate files, as the original agent did
 *   (output-bundle.ts): it is unpacked before archiving.
 *
 * jmJobData is `lease=<leaseId>`. The trust rule: a request about a leased job is honoured only
 * from the account that holds the lease (its bare JID) and, when it names a lease, with the
 * current lease id. Anyone else, and a holder whose lease is gone, is told `jobRefused`, so a
 * slow agent cannot overwrite a newer attempt and a stranger cannot take a job's output token.
 *
 * Limits (request-limits.ts): a banned account (JM_BANNED_FILE) gets nothing for
 * want_getJob/getJob and jobRefused (`banned`) for requests about a job; an account served a
 * want_getJob less than JM_REQUEST_COOLDOWN ago gets `sleep` with the seconds left; an account
 * holding JM_MAX_LEASES_PER_AGENT active leases gets no have_getJob and no job. The cap is
 * checked before the lease, not in it, so two getJobs of one account racing each other may
 * both pass it: it bounds a runaway agent, not an exact count.
 *
 * jobDone is acknowledged only once the result is recorded (the session acks after the
 * handler): when archiving fails (done dir full), the handler throws, the lease is renewed and
 * the agent's resend is handled later; the job is not burnt.
 */
import fs from 'node:fs';
import {
  classAdMatches,
  evaluateClassAd,
  accountOf,
  isValidJobId,
  jdlString,
  parseClassAdExpression,
  parseJdl,
  type ClassAdExpression,
  type Command,
  type CommandMessage,
  type CommandOf,
  type JdlRecord,
  type RunJob,
} from '@copilot/protocol';
import type { Logger } from '@copilot/base/logger';
import type { MonitorReporter } from '@copilot/transport';
import { ThrottledLog } from '@copilot/base/throttled-log';
import type { ChirpJobDirs } from './chirp-job-dirs';
import { archiveJobOutputs, type ArchivedJob } from './job-archive';
import {
  ACTIVE_STATES,
  FINAL_STATES,
  LEASE_RELEASED,
  formatJmJobData,
  leaseIdFromJmJobData,
  newLeaseId,
  newStorageToken,
  type JobRecord,
} from './job-record';
import { renewalDue, renewLease, type JobQueue } from './job-queue';
import type { JobStorePaths } from './job-store-paths';
import type { ManagerRole } from './manager-config';
import { unpackOutputBundle } from './output-bundle';
import type { BannedAccounts, RequestCooldown } from './request-limits';
import { storageDirOf } from './storage-server';
import { errorMessage } from '@copilot/base/errors';

/** Why a request about a job is refused (jobRefused's code); both are final for the agent. */
type RefusalCode = 'unknown-job' | 'lease-lost' | 'banned';

/** The commands of the job cycle; everything else is for other handlers. */
const JOB_CYCLE: ReadonlySet<string> = new Set([
  'want_getJob',
  'getJob',
  'want_getJobOutputDir',
  'getJobOutputDir',
  'jobDone',
  'renewLease',
]);

/** The sender's account holds the job's lease, and names the current lease if it names one. */
function holdsLease(job: JobRecord, from: string, jmJobData: string | undefined): boolean {
  if (job.agent === undefined || job.leaseId === undefined) return false;
  if (accountOf(job.agent) !== accountOf(from)) return false;
  const leaseId = leaseIdFromJmJobData(jmJobData);
  return leaseId === undefined || leaseId === job.leaseId;
}

/**
 * The original agent reports `state="ready"` for a job that ran; the report's example says
 * `done`. Either, with exit code 0, is a success; every other state keeps its meaning.
 */
function isSuccess(command: CommandOf<'jobDone'>): boolean {
  return command.exitCode === 0 && (command.state === 'done' || command.state === 'ready');
}

/** Queued jobs looked at first for a want_getJob or getJob (see matchingJobs). */
const HEAD_SCAN = 16;

/** The agent's jobDone state for a job whose inputs it could not fetch (it never ran). */
const UNRUN_STATE = 'download-failed';

/** What the Generic Job Manager reports to the Monitor (2.3.2). */
export type JobManagerEvent =
  | 'job.succeeded'
  | 'job.failed'
  | 'error.invalidJobId'
  | 'error.emptyQueue'
  | 'error.banned'
  | 'error.tooOften'
  | 'error.tooManyLeases'
  | 'queuedJobs'
  | 'runningJobs'
  | `system.${string}`;

export interface JobCycleOptions {
  queue: JobQueue;
  paths: JobStorePaths;
  monitor: MonitorReporter<JobManagerEvent>;
  logger: Logger;
  role: ManagerRole;
  doneJobDir: string;
  leaseMs: number;
  requireFile?: string;
  storageManagerAddress?: string;
  /** Base URL of this manager's HTTP storage, e.g. `http://10.0.0.1:8088`. */
  storageBaseUrl: () => string;
  /** Sends a reply; resolves when acknowledged. */
  reply: (to: string, command: Command) => Promise<unknown>;
  /** Sends a reply without asking for an ack (refusals: the agent asks again if one is lost). */
  notify: (to: string, command: Command) => void;
  /** How many queued jobs are considered per request (the queue head). */
  scanLimit?: number;
  /** Chirp storage (JM_CHIRP_*) instead of the HTTP storage server. */
  chirp?: ChirpJobDirs;
  /** Caps on an unpacked output bundle (JM_MAX_UPLOAD_MB per file, JM_MAX_JOB_MB in all). */
  bundleLimits?: { maxFileBytes: number; maxTotalBytes: number };
  /** JM_REQUEST_COOLDOWN: `sleep` for an account asking want_getJob too often. */
  cooldown?: RequestCooldown;
  /** JM_BANNED_FILE: accounts and domains refused everything. */
  banned?: BannedAccounts;
  /** JM_MAX_LEASES_PER_AGENT: active leases one account may hold; 0 or unset = no cap. */
  maxLeasesPerAgent?: number;
  /** JM_MAX_ATTEMPTS: leases of one job before a job that never ran is failed, not requeued. */
  maxAttempts?: number;
}

/** An agent's JDL and its own Requirements (listing 2.4), read once per request. */
interface AgentAd {
  jdl: JdlRecord;
  /** Undefined when the agent has none, or one we cannot read (it then refuses nothing). */
  requirements?: ClassAdExpression;
}

/** The attributes of a job the agent's own Requirements can refer to as `other.X`. */
function jobAd(job: JobRecord): JdlRecord {
  return [
    ['Type', jdlString('Job')],
    ['Command', jdlString(job.command)],
    ['Packages', jdlString(job.packages)],
  ];
}

export class JobCycleHandler {
  private readonly options: JobCycleOptions;
  private readonly refusals: ThrottledLog;

  constructor(options: JobCycleOptions) {
    this.options = options;
    this.refusals = new ThrottledLog(options.logger);
  }

  async handle(message: CommandMessage): Promise<void> {
    const command = message.command;
    if (!JOB_CYCLE.has(command.command)) return;
    if (await this.options.banned?.isBanned(message.from)) {
      this.options.monitor.event('error.banned');
      const jobID = 'jobID' in command ? command.jobID : undefined;
      if (typeof jobID === 'string')
        this.refuse(message, jobID, 'banned', 'your account is banned');
      else {
        this.refusals.warn(accountOf(message.from), 'request of a banned account ignored', {
          command: command.command,
          from: message.from,
        });
      }
      return;
    }
    switch (command.command) {
      case 'want_getJob':
      case 'getJob':
        if (this.options.role === 'storage') {
          this.options.logger.debug('job request ignored by a storage manager', {
            from: message.from,
          });
          return;
        }
        if (command.command === 'want_getJob') await this.wantGetJob(message, command);
        else await this.getJob(message, command);
        return;
      case 'want_getJobOutputDir':
      case 'getJobOutputDir':
      case 'jobDone':
        if (this.options.storageManagerAddress !== undefined) {
          await this.options.reply(message.from, {
            command: 'redirect',
            referral: this.options.storageManagerAddress,
            info: command,
          });
          return;
        }
        if (command.command === 'want_getJobOutputDir')
          await this.wantGetJobOutputDir(message, command);
        else if (command.command === 'getJobOutputDir')
          await this.getJobOutputDir(message, command);
        else await this.jobDone(message, command);
        return;
      case 'renewLease':
        await this.renewLeaseOf(message, command);
        return;
      default:
        // Acks, heartbeat and monitor commands are for other handlers.
        return;
    }
  }

  private agentAd(from: string, source: string): AgentAd {
    let jdl: JdlRecord;
    try {
      jdl = parseJdl(source);
    } catch (error) {
      this.options.logger.warn(
        'agent sent an unreadable JDL; only jobs without requirements match',
        {
          from,
          error: errorMessage(error),
        },
      );
      return { jdl: [] };
    }
    const own = jdl.find(([name]) => name.toLowerCase() === 'requirements')?.[1];
    if (own?.kind !== 'expression') return { jdl };
    try {
      return { jdl, requirements: parseClassAdExpression(own.source.trim()) };
    } catch {
      // An agent expression we cannot read does not refuse anything.
      return { jdl };
    }
  }

  private matches(job: JobRecord, agent: AgentAd): boolean {
    try {
      if (job.requirements !== undefined && !classAdMatches(job.requirements, agent.jdl))
        return false;
    } catch (error) {
      this.options.logger.warn('job requirements cannot be evaluated', {
        job: job.id,
        error: errorMessage(error),
      });
      return false;
    }
    // The agent's own Requirements may refuse the job; only false refuses, UNDEFINED does not.
    return (
      agent.requirements === undefined ||
      evaluateClassAd(agent.requirements, jobAd(job), agent.jdl) !== false
    );
  }

  /**
   * Queued jobs this agent may run, oldest first, looked at one by one as the caller asks for
   * them. Most jobs have no requirements, so the first queued job nearly always matches and is
   * the only one read; then the head of the queue, and only when the head has no match is the
   * longer scan paid for.
   */
  private async *matchingJobs(agent: AgentAd): AsyncGenerator<JobRecord> {
    const limit = this.options.scanLimit ?? 200;
    const headSize = Math.min(HEAD_SCAN, limit);
    const looked = new Set<string>();
    let found = false;
    for (const size of new Set([1, headSize, limit])) {
      const jobs = await this.options.queue.queued(size);
      for (const job of jobs) {
        if (looked.has(job.id)) continue;
        looked.add(job.id);
        if (!this.matches(job, agent)) continue;
        found = true;
        yield job;
      }
      if (jobs.length < size || (found && size >= headSize)) return;
    }
  }

  /** True (and the agent told `sleep`) when its account was served less than the cooldown ago. */
  private tooOften(message: CommandMessage): boolean {
    const answer = this.options.cooldown?.check(message.from);
    if (answer === undefined || answer.serve) return false;
    this.options.monitor.event('error.tooOften');
    this.refusals.warn(`${accountOf(message.from)}|cooldown`, 'want_getJob too often: sleep', {
      from: message.from,
      seconds: answer.secondsLeft,
    });
    this.options.notify(message.from, { command: 'sleep', seconds: answer.secondsLeft });
    return true;
  }

  /** True when the sender's account already holds JM_MAX_LEASES_PER_AGENT active leases. */
  private async overLeaseCap(message: CommandMessage): Promise<boolean> {
    const cap = this.options.maxLeasesPerAgent ?? 0;
    if (cap <= 0) return false;
    const account = accountOf(message.from);
    const held = await this.options.queue.countActiveOf(account);
    if (held < cap) return false;
    this.options.monitor.event('error.tooManyLeases');
    this.refusals.warn(`${account}|cap`, 'account holds the most leases allowed: no job', {
      command: message.command.command,
      from: message.from,
      leases: held,
      cap,
    });
    return true;
  }

  private async wantGetJob(
    message: CommandMessage,
    command: CommandOf<'want_getJob'>,
  ): Promise<void> {
    if (this.tooOften(message) || (await this.overLeaseCap(message))) return;
    const first = await this.matchingJobs(this.agentAd(message.from, command.jdl)).next();
    if (first.done === true) {
      this.options.monitor.event('error.emptyQueue');
      this.options.logger.debug('no matching job for want_getJob', { from: message.from });
      return;
    }
    const reply: Command = { command: 'have_getJob' };
    if (this.options.requireFile !== undefined) reply.requireFile = this.options.requireFile;
    await this.options.reply(message.from, reply);
  }

  private runJobFor(job: JobRecord): RunJob {
    if (
      job.leaseId === undefined ||
      job.inputToken === undefined ||
      job.outputToken === undefined
    ) {
      throw new Error(`job ${job.id} is leased without tokens`);
    }
    const base = this.options.storageBaseUrl();
    const storage = this.options.chirp?.storageFor(job) ?? {
      chirpUrl: base,
      inputDir: storageDirOf('input', job.id, job.inputToken),
      outputDir: storageDirOf('output', job.id, job.outputToken),
    };
    const runJob: RunJob = {
      command: 'runJob',
      job: {
        id: job.id,
        command: job.command,
        arguments: job.arguments,
        environment: job.environment,
        packages: job.packages,
        inputFiles: job.inputFiles,
        ...storage,
      },
      jmJobData: formatJmJobData(job.leaseId),
    };
    if (job.validation !== undefined) runJob.job.validation = job.validation;
    if (job.image !== undefined) runJob.job.image = job.image;
    return runJob;
  }

  private async getJob(message: CommandMessage, command: CommandOf<'getJob'>): Promise<void> {
    const { queue, logger, leaseMs } = this.options;
    const requestKey = `${message.from}|${message.id}`;
    const already = await queue.findByRequest(requestKey);
    if (already && ACTIVE_STATES.includes(already.state) && already.agent === message.from) {
      logger.info('repeated getJob: sending the same job again', {
        job: already.id,
        from: message.from,
      });
      await this.options.chirp?.prepareLease(already);
      await this.options.reply(message.from, this.runJobFor(already));
      return;
    }
    if (await this.overLeaseCap(message)) return;
    for await (const candidate of this.matchingJobs(this.agentAd(message.from, command.jdl))) {
      const now = Date.now();
      const result = await queue.transition(
        candidate.id,
        { from: ['queued'] },
        {
          state: 'leased',
          agent: message.from,
          requestKey,
          leaseId: newLeaseId(),
          leaseExpiresAt: now + leaseMs,
          inputToken: newStorageToken(),
          outputToken: newStorageToken(),
          attempts: candidate.attempts + 1,
          updatedAt: now,
          exitCode: null,
          agentState: null,
          finishedAt: null,
          note: null,
        },
      );
      if (!result.ok) continue; // another manager took it first, or its owner is at the cap
      // Leftovers of an earlier attempt must not end up in this attempt's results (a job never
      // leased before has no output directory yet).
      if (candidate.attempts > 0) {
        await fs.promises.rm(this.options.paths.dir(candidate.id, 'output'), {
          recursive: true,
          force: true,
        });
      }
      logger.info('job leased', {
        job: candidate.id,
        agent: message.from,
        attempt: result.job.attempts,
      });
      this.reportQueueLength();
      await this.options.chirp?.prepareLease(result.job);
      await this.options.reply(message.from, this.runJobFor(result.job));
      return;
    }
    this.options.monitor.event('error.emptyQueue');
    logger.info('getJob but no matching job is queued', { from: message.from });
  }

  private refuse(message: CommandMessage, jobID: string, code: RefusalCode, why: string): void {
    // Anyone can ask about any job as often as they like: one line per sender a minute.
    this.refusals.warn(accountOf(message.from), 'request refused', {
      command: message.command.command,
      from: message.from,
      jobID: jobID.slice(0, 200),
      code,
      why,
    });
    if (code === 'unknown-job') this.options.monitor.event('error.invalidJobId');
    // A malformed id is not echoed back: it is not a job anybody holds.
    if (!isValidJobId(jobID)) return;
    this.options.notify(message.from, { command: 'jobRefused', jobID, code, reason: why });
  }

  /**
   * The job named by a request, if the sender holds its lease: the job's agent is the sender's
   * account and, when the request names a lease, that lease is the current one. Otherwise the
   * request is refused and undefined returned.
   */
  private async heldJob(
    message: CommandMessage,
    jobID: string,
    jmJobData: string | undefined,
  ): Promise<JobRecord | undefined> {
    if (!isValidJobId(jobID)) {
      this.refuse(message, jobID, 'unknown-job', 'malformed job id');
      return undefined;
    }
    const job = await this.options.queue.get(jobID);
    if (!job) {
      this.refuse(message, jobID, 'unknown-job', 'no such job');
      return undefined;
    }
    if (!holdsLease(job, message.from, jmJobData)) {
      this.refuse(message, jobID, 'lease-lost', `the job is ${job.state} and not leased to you`);
      return undefined;
    }
    return job;
  }

  /**
   * The held job (see heldJob), its lease renewed while it runs; a job no longer active, or whose
   * lease could not be renewed, is refused (lease-lost) and undefined returned. With `whenDue`,
   * a lease renewed moments ago is not written again (renewalDue).
   */
  private async renewedJob(
    message: CommandMessage,
    jobID: string,
    jmJobData: string | undefined,
    whenDue = false,
  ): Promise<JobRecord | undefined> {
    const job = await this.heldJob(message, jobID, jmJobData);
    if (!job) return undefined;
    const active = ACTIVE_STATES.includes(job.state);
    if (active && whenDue && !renewalDue(job, this.options.leaseMs)) return job;
    if (!active || !(await this.renew(job))) {
      this.refuse(message, job.id, 'lease-lost', `the job is ${job.state}`);
      return undefined;
    }
    return job;
  }

  private async renew(job: JobRecord, state?: 'uploading'): Promise<JobRecord | undefined> {
    const result = await renewLease(
      this.options.queue,
      job,
      this.options.leaseMs,
      state,
      job.outputToken === undefined ? { outputToken: newStorageToken() } : {},
    );
    return result.ok ? result.job : undefined;
  }

  private async wantGetJobOutputDir(
    message: CommandMessage,
    command: CommandOf<'want_getJobOutputDir'>,
  ): Promise<void> {
    const job = await this.renewedJob(message, command.jobID, command.jmJobData, true);
    if (!job) return;
    await this.options.reply(message.from, { command: 'have_getJobOutputDir' });
  }

  private async getJobOutputDir(
    message: CommandMessage,
    command: CommandOf<'getJobOutputDir'>,
  ): Promise<void> {
    const held = await this.heldJob(message, command.jobID, command.jmJobData);
    if (!held) return;
    const job = ACTIVE_STATES.includes(held.state)
      ? await this.renew(held, 'uploading')
      : undefined;
    if (!job || job.outputToken === undefined || job.leaseId === undefined) {
      this.refuse(message, held.id, 'lease-lost', `the job is ${held.state}`);
      return;
    }
    const target = this.options.chirp
      ? await this.options.chirp.prepareOutput(job)
      : await this.httpOutputDir(job, job.outputToken);
    await this.options.reply(message.from, {
      command: 'storeJobOutputDir',
      ...target,
      jobID: job.id,
      jmJobData: command.jmJobData ?? formatJmJobData(job.leaseId),
    });
  }

  private async httpOutputDir(
    job: JobRecord,
    token: string,
  ): Promise<{ outputChirpUrl: string; outputDir: string }> {
    await fs.promises.mkdir(this.options.paths.dir(job.id, 'output'), { recursive: true });
    return {
      outputChirpUrl: this.options.storageBaseUrl(),
      outputDir: storageDirOf('output', job.id, token),
    };
  }

  private async jobDone(message: CommandMessage, command: CommandOf<'jobDone'>): Promise<void> {
    const { queue, logger, monitor } = this.options;
    const job = await this.heldJob(message, command.jobID, command.jmJobData);
    if (!job) return;
    if (FINAL_STATES.includes(job.state)) {
      if (job.state === 'cancelled') {
        this.refuse(message, job.id, 'lease-lost', 'the job was cancelled');
      } else logger.info('repeated jobDone ignored', { job: job.id, state: job.state });
      return;
    }
    if (!ACTIVE_STATES.includes(job.state)) {
      this.refuse(message, job.id, 'lease-lost', `the job is ${job.state}`);
      return;
    }
    if (await this.requeuedUnrun(message, job, command)) return;
    const archived = await this.archive(job);
    const succeeded = isSuccess(command);
    const now = Date.now();
    const notes: string[] = [];
    if (archived.missing.length > 0) notes.push(`not uploaded: ${archived.missing.join(', ')}`);
    notes.push(...archived.problems);
    const result = await queue.transition(
      job.id,
      { from: ACTIVE_STATES, leaseId: job.leaseId },
      {
        state: succeeded ? 'done' : 'failed',
        exitCode: command.exitCode,
        agentState: command.state,
        finishedAt: now,
        updatedAt: now,
        leaseExpiresAt: null,
        inputToken: null,
        outputToken: null,
        note: notes.length > 0 ? notes.join('; ') : null,
      },
    );
    if (!result.ok) {
      const state = result.job?.state ?? job.state;
      this.refuse(message, job.id, 'lease-lost', `the job is ${state}`);
      return;
    }
    await this.options.chirp?.release(job);
    monitor.event(succeeded ? 'job.succeeded' : 'job.failed');
    logger.info('job finished', {
      job: job.id,
      state: result.job.state,
      agentState: command.state,
      exitCode: command.exitCode,
      archive: archived.archive,
    });
  }

  /**
   * The agent could not fetch the job's inputs, so the job never ran: the storage that leased it
   * may be down (a manager killed after the lease) while the queue's other managers serve it.
   * The job goes back to the queue like an expired lease, and fails after JM_MAX_ATTEMPTS leases.
   */
  private async requeuedUnrun(
    message: CommandMessage,
    job: JobRecord,
    command: CommandOf<'jobDone'>,
  ): Promise<boolean> {
    const { queue, logger } = this.options;
    if (command.state !== UNRUN_STATE || job.attempts >= (this.options.maxAttempts ?? Infinity)) {
      return false;
    }
    const now = Date.now();
    const result = await queue.transition(
      job.id,
      { from: ACTIVE_STATES, leaseId: job.leaseId },
      {
        ...LEASE_RELEASED,
        state: 'queued',
        agentState: command.state,
        updatedAt: now,
        note: `${job.agent ?? 'the agent'} could not download the inputs; back in the queue`,
      },
    );
    if (!result.ok) {
      this.refuse(message, job.id, 'lease-lost', `the job is ${result.job?.state ?? job.state}`);
      return true;
    }
    await this.options.chirp?.release(job);
    logger.info('inputs not downloaded; job back in the queue', {
      job: job.id,
      agent: message.from,
      attempts: job.attempts,
    });
    return true;
  }

  /** The holder still runs the job: its lease goes on (any role: the lease is queue state). */
  private async renewLeaseOf(
    message: CommandMessage,
    command: CommandOf<'renewLease'>,
  ): Promise<void> {
    const job = await this.renewedJob(message, command.jobID, command.jmJobData);
    if (!job) return;
    this.options.logger.debug('lease renewed', { job: job.id, from: message.from });
  }

  /**
   * The job's outputs into the done dir. When that fails (disk full, permissions) the lease is
   * renewed and the error thrown: the jobDone is not acknowledged, and the agent's resend tries
   * again later, while the job waits in its state.
   */
  private async archive(job: JobRecord): Promise<ArchivedJob & { problems: string[] }> {
    try {
      const outputDir = this.options.paths.dir(job.id, 'output');
      const problems = (await this.options.chirp?.collectOutputs(job, outputDir)) ?? [];
      const bundle = await unpackOutputBundle(job.id, outputDir, this.options.bundleLimits);
      const archived = await archiveJobOutputs(job.id, outputDir, this.options.doneJobDir);
      return { ...archived, problems: [...problems, ...bundle.problems] };
    } catch (error) {
      await this.renew(job).catch(() => undefined);
      this.options.logger.error('cannot archive the job outputs; jobDone left for a resend', {
        job: job.id,
        error: errorMessage(error),
      });
      throw error;
    }
  }

  /** queuedJobs (the report's queue size) and runningJobs (handed out, not finished). */
  reportQueueLength(): void {
    if (!this.options.monitor.enabled) return;
    const { queue, monitor } = this.options;
    Promise.all([queue.countQueued(), queue.countActive()])
      .then(([queued, active]) => {
        monitor.value('queuedJobs', queued);
        monitor.value('runningJobs', active);
      })
      .catch(() => undefined);
  }
}
