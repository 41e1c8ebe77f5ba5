/**
 * The job request sequence (2.2.1): want_getJob to the broadcast address (each configured
 * manager address that is not cooling down), the first have_getJob whose requireFile exists on
 * this host wins, getJob to that manager's full JID, runJob back. A manager is left alone for a
 * while when its requireFile is missing here, or when it told us to `sleep`
 * (ManagerExchange.cooldowns).
 */
import fs from 'node:fs';
import type { JobDescription } from '../protocol/commands';
import { accountOf } from '../protocol/jid';
import { isValidJobId } from '../protocol/job-fields';
import type { Logger } from '../base/logger';
import type { ManagerExchange } from './manager-exchange';
import { errorMessage } from '../base/errors';

export interface JobRequestOptions {
  exchange: ManagerExchange;
  logger: Logger;
  /** The configured manager addresses (ManagerTrust's). */
  managers: readonly string[];
  agentHost: string;
  jdl: string;
  /** How long to wait for have_getJob, and then for runJob. */
  replyTimeoutMs: number;
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
  /** Every manager asked us to wait (sleep) until `until` at the earliest. */
  | { kind: 'cooling-down'; until: number }
  | { kind: 'no-job'; manager: string; reason: string };

export async function requestJob(options: JobRequestOptions): Promise<JobRequestResult> {
  const { exchange, logger } = options;
  const now = options.now ?? Date.now;
  const exists = options.fileExists ?? ((file: string) => fs.existsSync(file));
  const cooldowns = exchange.cooldowns;
  for (const [jid, until] of cooldowns) {
    if (until <= now()) cooldowns.delete(jid);
  }
  const asked = options.managers.filter((address) => !cooldowns.has(accountOf(address)));
  if (asked.length === 0) {
    const until = options.managers.map((address) => cooldowns.get(accountOf(address)) ?? now());
    return { kind: 'cooling-down', until: Math.min(...until) };
  }
  const offers = exchange.mailbox('have_getJob', { peers: asked });
  let manager: string | undefined;
  try {
    for (const address of asked) {
      exchange
        .send(address, { command: 'want_getJob', agentHost: options.agentHost, jdl: options.jdl })
        .catch((error: unknown) => {
          logger.debug('want_getJob not acknowledged', { to: address, error: errorMessage(error) });
        });
    }
    const deadline = now() + options.replyTimeoutMs;
    while (manager === undefined) {
      const remaining = deadline - now();
      if (remaining <= 0) return { kind: 'no-offer' };
      const offer = await offers.next(remaining);
      if (!offer) return { kind: 'no-offer' };
      const waitUntil = Math.max(
        cooldowns.get(offer.from) ?? 0,
        cooldowns.get(accountOf(offer.from)) ?? 0,
      );
      if (waitUntil > now()) continue;
      const required = offer.command.requireFile;
      if (required !== undefined && required !== '' && !exists(required)) {
        logger.info('manager requires a file this host lacks; ignoring it for a while', {
          manager: offer.from,
          requireFile: required,
        });
        // This manager only: others of the same account may not require the file.
        cooldowns.set(offer.from, now() + (options.ignoreMs ?? 600_000));
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
      reason: errorMessage(error),
    };
  } finally {
    replies.close();
  }
}
