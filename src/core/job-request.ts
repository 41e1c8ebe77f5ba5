/**
 * The job request sequence (2.2.1): want_getJob to the broadcast address, the first have_getJob
 * whose requireFile exists on this host wins, getJob to that manager's full JID, runJob back.
 */
import fs from 'node:fs';
import type { JobDescription } from '../protocol/commands';
import { isValidJobId } from '../protocol/job-fields';
import type { Logger } from '../transport/logger';
import type { ManagerExchange } from './manager-exchange';
import { errorText } from './error-text';

export interface JobRequestOptions {
  exchange: ManagerExchange;
  logger: Logger;
  jobManagerAddress: string;
  agentHost: string;
  jdl: string;
  /** How long to wait for have_getJob, and then for runJob. */
  replyTimeoutMs: number;
  /** Managers whose requireFile was missing, with the time until they are ignored. */
  ignoredUntil: Map<string, number>;
  /** How long a manager with a missing requireFile is ignored; default 10 min. */
  ignoreMs?: number;
  now?: () => number;
  fileExists?: (file: string) => boolean;
}

export interface ReceivedJob {
  job: JobDescription;
  jmJobData?: string;
  manager: string;
}

export type JobRequestResult =
  | { kind: 'job'; received: ReceivedJob }
  | { kind: 'no-offer' }
  | { kind: 'no-job'; manager: string; reason: string };

export async function requestJob(options: JobRequestOptions): Promise<JobRequestResult> {
  const { exchange, logger } = options;
  const now = options.now ?? Date.now;
  const exists = options.fileExists ?? ((file: string) => fs.existsSync(file));
  for (const [peer, until] of options.ignoredUntil) {
    if (until <= now()) options.ignoredUntil.delete(peer);
  }
  const offers = exchange.mailbox('have_getJob');
  let manager: string | undefined;
  try {
    exchange
      .send(options.jobManagerAddress, {
        command: 'want_getJob',
        agentHost: options.agentHost,
        jdl: options.jdl,
      })
      .catch((error: unknown) => {
        logger.debug('want_getJob not acknowledged', { error: String(error) });
      });
    const deadline = now() + options.replyTimeoutMs;
    while (manager === undefined) {
      const remaining = deadline - now();
      if (remaining <= 0) return { kind: 'no-offer' };
      const offer = await offers.next(remaining);
      if (!offer) return { kind: 'no-offer' };
      const ignored = options.ignoredUntil.get(offer.from);
      if (ignored !== undefined && ignored > now()) continue;
      const required = offer.command.requireFile;
      if (required !== undefined && required !== '' && !exists(required)) {
        logger.info('manager requires a file this host lacks; ignoring it for a while', {
          manager: offer.from,
          requireFile: required,
        });
        options.ignoredUntil.set(offer.from, now() + (options.ignoreMs ?? 600_000));
        continue;
      }
      manager = offer.from;
    }
  } finally {
    offers.close();
  }

  const replies = exchange.mailbox('runJob', { peers: [manager] });
  try {
    await exchange.send(manager, {
      command: 'getJob',
      agentHost: options.agentHost,
      jdl: options.jdl,
    });
    const reply = await replies.next(options.replyTimeoutMs);
    if (!reply) return { kind: 'no-job', manager, reason: 'no runJob in time' };
    const { job, jmJobData } = reply.command;
    if (!isValidJobId(job.id)) {
      return {
        kind: 'no-job',
        manager: reply.from,
        reason: `invalid job id ${JSON.stringify(job.id)}`,
      };
    }
    const received: ReceivedJob = { job, manager: reply.from };
    if (jmJobData !== undefined) received.jmJobData = jmJobData;
    return { kind: 'job', received };
  } catch (error) {
    return {
      kind: 'no-job',
      manager,
      reason: errorText(error),
    };
  } finally {
    replies.close();
  }
}
