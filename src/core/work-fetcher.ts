/**
 * Asks the managers for work (job-request.ts) whenever a slot is free and everything else
 * allows it: Docker answers, the connection is up, the policy lets jobs run and the back-off
 * after an unanswered round has passed. The host's JDL is read at most once a minute.
 */
import type { AgentSettings } from '../contract/ui-contract';
import { backoffDelay, type BackoffOptions } from '../base/backoff';
import type { Logger } from '../base/logger';
import {
  buildHostJdl,
  collectHostFacts,
  jobCaps,
  type HostFacts,
  type SystemInfoSource,
} from './host-jdl';
import { requestJob, type JobRequestResult } from './job-request';
import type { JobInHand } from './job-store';
import type { ManagerExchange } from './manager-exchange';
import { managerAddresses } from './manager-trust';
import type { SerialLock } from '../base/serial-lock';
import { errorMessage } from '../base/errors';

const FACTS_MAX_AGE_MS = 60_000;

export interface WorkFetcherOptions {
  exchange: ManagerExchange;
  handshakeLock: SerialLock;
  logger: Logger;
  settings: () => AgentSettings;
  agentHost: string;
  dataDir: string;
  systemInfo: SystemInfoSource;
  hostCpuCount: number;
  replyTimeoutMs: number;
  backoff: BackoffOptions;
  /** Whether a fetch may start now (slots, Docker, connection, policy, stopped). */
  mayFetch: (now: number) => boolean;
  /** The job is in hand already (running, or on disk). */
  holds: (jobId: string) => boolean;
  /** A job arrived. */
  onJob: (inHand: JobInHand) => void;
  /** A round ended (with or without a job). */
  onRoundEnd: () => void;
}

export class WorkFetcher {
  private fetching = false;
  private attempt = 0;
  private nextAt = 0;
  private facts: HostFacts | undefined;
  private factsAt = 0;

  constructor(private readonly options: WorkFetcherOptions) {}

  /** Starts a round when one may start; a round in progress calls pump again when it ends. */
  pump(): void {
    const now = Date.now();
    if (this.fetching || now < this.nextAt || !this.options.mayFetch(now)) return;
    this.fetching = true;
    this.fetchOne()
      .catch((error: unknown) => {
        this.options.logger.warn('asking for a job failed', { error: errorMessage(error) });
        this.backOff();
      })
      .finally(() => {
        this.fetching = false;
        this.options.onRoundEnd();
      });
  }

  private backOff(): number {
    const delay = backoffDelay(this.attempt, this.options.backoff);
    this.attempt += 1;
    this.nextAt = Date.now() + delay;
    return delay;
  }

  private async hostJdl(): Promise<string> {
    const { options } = this;
    if (!this.facts || Date.now() - this.factsAt > FACTS_MAX_AGE_MS) {
      this.facts = await collectHostFacts(options.systemInfo, options.dataDir);
      this.factsAt = Date.now();
    }
    const settings = options.settings();
    return buildHostJdl(this.facts, jobCaps(settings, options.hostCpuCount));
  }

  private async fetchOne(): Promise<void> {
    const { options } = this;
    const jdl = await this.hostJdl();
    const result = await options.handshakeLock.run(() =>
      requestJob({
        exchange: options.exchange,
        logger: options.logger,
        managers: managerAddresses(options.settings().jobManagerAddress),
        agentHost: options.agentHost,
        jdl,
        replyTimeoutMs: options.replyTimeoutMs,
      }),
    );
    this.take(result);
  }

  private take(result: JobRequestResult): void {
    const { logger } = this.options;
    switch (result.kind) {
      case 'job': {
        const { job, manager, jmJobData } = result.received;
        if (this.options.holds(job.id)) {
          // Not a new job: back off as after an empty round, or a manager that keeps offering
          // it (requeued while its result waits on disk) would be asked in a tight loop.
          logger.warn('runJob for a job already in hand ignored', {
            jobId: job.id,
            manager,
            retryInMs: this.backOff(),
          });
          return;
        }
        this.attempt = 0;
        this.nextAt = 0;
        logger.info('job received', { jobId: job.id, manager, command: job.command });
        const inHand: JobInHand = {
          job,
          manager,
          phase: 'received',
          receivedAt: new Date().toISOString(),
        };
        if (jmJobData !== undefined) inHand.jmJobData = jmJobData;
        this.options.onJob(inHand);
        return;
      }
      case 'cooling-down':
        this.nextAt = result.until;
        logger.debug('every manager asked us to wait', {
          until: new Date(result.until).toISOString(),
        });
        return;
      case 'no-offer':
        logger.debug('no manager offered a job', { retryInMs: this.backOff() });
        return;
      case 'no-job':
        logger.info('no job from manager', {
          manager: result.manager,
          reason: result.reason,
          retryInMs: this.backOff(),
        });
    }
  }
}
