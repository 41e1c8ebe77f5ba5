/**
 * The shared queue in Redis (JM_REDIS_SERVER). Layout, with `ns` = namespace (default
 * `copilot:`):
 *
 * - `<JM_WAITING_JOBS_LIST>` (default `waiting-jobs`, as in the report): list of queued job ids,
 *   handed out from the left; new jobs are pushed right, requeued jobs left.
 * - `ns job:<id>`: hash with the job's fields (see job-record.ts).
 * - `ns jobs`: sorted set of every job id by submission order.
 * - `ns leases`: sorted set of leased job ids by lease expiry (ms).
 * - `ns account:<account>`: set of the active job ids leased to an account (the agent's bare JID,
 *   lower-cased), kept by the transition script; its size is JM_MAX_LEASES_PER_AGENT's count.
 * - `ns request:<agent|message id>`: id of the job leased for that getJob request (kept 14 days).
 * - `ns seq`: submission counter.
 *
 * Every transition is one Lua script, so the check and the change are atomic across all
 * manager instances sharing the server.
 */
import { Redis } from 'ioredis';
import { assertValidJobId } from '@copilot/protocol';
import {
  patchToFields,
  recordFromFields,
  recordToFields,
  validateJobSpec,
  type JobPatch,
  type JobRecord,
  type JobSpec,
} from './job-record';
import {
  JobQueueError,
  type JobQueue,
  type NewJob,
  type TransitionCondition,
  type TransitionResult,
} from './job-queue';
import { errorMessage } from '@copilot/base/errors';

export interface RedisJobQueueOptions {
  /** `host`, `host:port` or `redis://…`. */
  server: string;
  waitingList?: string;
  namespace?: string;
}

const ADD_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'seq', seq)
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
return seq
`;

// KEYS: job hash, waiting list, leases zset, request key prefix (ns .. 'request:'),
//       account set prefix (ns .. 'account:')
// ARGV: id, allowed states (comma list), leaseId ('' = any), expiredBefore ('' = none),
//       then field/value pairs ('' removes the field).
// Returns {outcome, fields of the job as the script left it}, so the caller sees exactly the
// record this transition produced (or refused), not one changed since by another manager.
// A job id is in the waiting list exactly while the job is queued, once.
const TRANSITION_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local function account(agent)
  if not agent then return nil end
  local slash = string.find(agent, '/', 1, true)
  if slash then agent = string.sub(agent, 1, slash - 1) end
  return string.lower(agent)
end
local function active(s) return s == 'leased' or s == 'running' or s == 'uploading' end
local state = redis.call('HGET', KEYS[1], 'state')
local holder = account(redis.call('HGET', KEYS[1], 'agent'))
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == state then allowed = true end end
if not allowed then return {'state', redis.call('HGETALL', KEYS[1])} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'leaseId') ~= ARGV[3] then
  return {'lease', redis.call('HGETALL', KEYS[1])}
end
if ARGV[4] ~= '' then
  local expires = tonumber(redis.call('HGET', KEYS[1], 'leaseExpiresAt') or '')
  if expires == nil or expires > tonumber(ARGV[4]) then
    return {'not-expired', redis.call('HGETALL', KEYS[1])}
  end
end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  if ARGV[i] == 'requestKey' and ARGV[i + 1] ~= '' then
    redis.call('SET', KEYS[4] .. ARGV[i + 1], ARGV[1], 'EX', 1209600)
  end
end
local now = redis.call('HGET', KEYS[1], 'state')
if now == 'queued' then
  if state ~= 'queued' then redis.call('LPUSH', KEYS[2], ARGV[1]) end
elseif state == 'queued' then
  -- Only a job leaving the queue is in the list; it is usually at the head, where LREM stops.
  redis.call('LREM', KEYS[2], 1, ARGV[1])
end
if active(state) and holder then redis.call('SREM', KEYS[5] .. holder, ARGV[1]) end
local newHolder = account(redis.call('HGET', KEYS[1], 'agent'))
if active(now) and newHolder then redis.call('SADD', KEYS[5] .. newHolder, ARGV[1]) end
local expires = redis.call('HGET', KEYS[1], 'leaseExpiresAt')
if active(now) and expires then
  redis.call('ZADD', KEYS[3], expires, ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return {'ok', redis.call('HGETALL', KEYS[1])}
`;

// KEYS: waiting list. ARGV: how many ids, job hash key prefix (ns .. 'job:').
// The first ids of the waiting list with their fields, in one round trip.
const QUEUED_SCRIPT = `
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local jobs = {}
for i, id in ipairs(ids) do jobs[i] = redis.call('HGETALL', ARGV[2] .. id) end
return jobs
`;

/** The scripts, sent once and then run by their SHA1 (EVALSHA) rather than as text each time. */
const SCRIPTS = {
  copilotAddJob: { lua: ADD_SCRIPT, numberOfKeys: 4 },
  copilotTransition: { lua: TRANSITION_SCRIPT, numberOfKeys: 5 },
  copilotQueued: { lua: QUEUED_SCRIPT, numberOfKeys: 1, readOnly: true },
} as const;

type ScriptRunner = (...keysAndArgs: string[]) => Promise<unknown>;

/** HGETALL's flat `[name, value, …]` as Lua hands it back. */
function fieldsFromFlat(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) {
    fields[flat[index] as string] = flat[index + 1] as string;
  }
  return fields;
}

function redisTarget(server: string): { host: string; port: number } | string {
  if (/^rediss?:\/\//.test(server)) return server;
  const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(server);
  if (!match?.[1]) throw new JobQueueError(`JM_REDIS_SERVER is not host[:port]: ${server}`);
  return { host: match[1], port: match[2] ? Number(match[2]) : 6379 };
}

export class RedisJobQueue implements JobQueue {
  readonly backend = 'redis' as const;
  private readonly redis: Redis;
  private readonly scripts: Record<keyof typeof SCRIPTS, ScriptRunner>;
  private readonly waitingList: string;
  private readonly ns: string;

  constructor(readonly options: RedisJobQueueOptions) {
    const target = redisTarget(options.server);
    const common = { lazyConnect: false, maxRetriesPerRequest: 3, enableOfflineQueue: true };
    this.redis =
      typeof target === 'string' ? new Redis(target, common) : new Redis({ ...target, ...common });
    // Errors surface on the commands; this keeps an unreachable server from crashing the process.
    this.redis.on('error', () => undefined);
    for (const [name, definition] of Object.entries(SCRIPTS)) {
      this.redis.defineCommand(name, definition);
    }
    // defineCommand adds a method per script, which ioredis's types cannot know about.
    const commands = this.redis as unknown as Record<keyof typeof SCRIPTS, ScriptRunner>;
    this.scripts = {
      copilotAddJob: commands.copilotAddJob.bind(this.redis),
      copilotTransition: commands.copilotTransition.bind(this.redis),
      copilotQueued: commands.copilotQueued.bind(this.redis),
    };
    this.waitingList = options.waitingList ?? 'waiting-jobs';
    this.ns = options.namespace ?? 'copilot:';
  }

  private jobKey(id: string): string {
    return `${this.ns}job:${id}`;
  }

  /** Resolves once the server answers PING; rejects with a clear error otherwise. */
  async ping(): Promise<void> {
    try {
      await this.redis.ping();
    } catch (error) {
      throw new JobQueueError(`cannot reach Redis: ${errorMessage(error)}`);
    }
  }

  /** The keys and arguments of the add script for one new job. */
  private addArgs(id: string, spec: JobSpec, now: number): string[] {
    assertValidJobId(id);
    validateJobSpec(spec);
    const fields = recordToFields({
      ...spec,
      id,
      state: 'queued',
      seq: 0,
      submittedAt: now,
      updatedAt: now,
      attempts: 0,
    });
    delete fields.seq;
    return [
      this.jobKey(id),
      this.waitingList,
      `${this.ns}jobs`,
      `${this.ns}seq`,
      id,
      '',
      ...Object.entries(fields).flat(),
    ];
  }

  async add(id: string, spec: JobSpec, now = Date.now()): Promise<JobRecord> {
    const seq = (await this.scripts.copilotAddJob(...this.addArgs(id, spec, now))) as number;
    if (seq === 0) throw new JobQueueError(`job ${id} already exists`);
    const record = await this.get(id);
    if (!record) throw new JobQueueError(`job ${id} vanished after it was added`);
    return record;
  }

  async addMany(jobs: ReadonlyArray<NewJob>, now = Date.now()): Promise<JobRecord[]> {
    const calls = jobs.map(({ id, spec }) => this.addArgs(id, spec, now));
    if (calls.length === 0) return [];
    const pipeline = this.redis.pipeline();
    // defineCommand adds each script to pipelines too, which ioredis's types cannot know about.
    const scripted = pipeline as unknown as Record<'copilotAddJob', (...args: string[]) => void>;
    for (const args of calls) scripted.copilotAddJob(...args);
    const results = (await pipeline.exec()) ?? [];
    const refused = jobs.filter((job, index) => {
      const [error, seq] = results[index] ?? [new Error('no answer'), 0];
      return error !== null || seq === 0;
    });
    if (refused.length > 0) {
      throw new JobQueueError(
        `${refused.length} of ${jobs.length} jobs not stored (first: ${refused[0]?.id ?? ''})`,
      );
    }
    return this.getMany(jobs.map((job) => job.id));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const fields = await this.redis.hgetall(this.jobKey(id));
    return Object.keys(fields).length === 0 ? undefined : recordFromFields(fields);
  }

  private async getMany(ids: readonly string[]): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.jobKey(id));
    const results = (await pipeline.exec()) ?? [];
    const records: JobRecord[] = [];
    for (const [error, fields] of results) {
      if (error) throw error;
      const map = fields as Record<string, string>;
      if (Object.keys(map).length > 0) records.push(recordFromFields(map));
    }
    return records;
  }

  async list(): Promise<JobRecord[]> {
    return this.getMany(await this.redis.zrange(`${this.ns}jobs`, 0, -1));
  }

  async queued(limit: number): Promise<JobRecord[]> {
    const jobs = (await this.scripts.copilotQueued(
      this.waitingList,
      String(Math.max(1, limit)),
      `${this.ns}job:`,
    )) as string[][];
    return jobs
      .filter((flat) => flat.length > 0)
      .map((flat) => recordFromFields(fieldsFromFlat(flat)))
      .filter((job) => job.state === 'queued');
  }

  /** The lease set holds exactly the leased, running and uploading jobs. */
  countActive(): Promise<number> {
    return this.redis.zcard(`${this.ns}leases`);
  }

  countActiveOf(account: string): Promise<number> {
    return this.redis.scard(`${this.ns}account:${account}`);
  }

  countQueued(): Promise<number> {
    return this.redis.llen(this.waitingList);
  }

  async findByRequest(requestKey: string): Promise<JobRecord | undefined> {
    const id = await this.redis.get(`${this.ns}request:${requestKey}`);
    if (id === null) return undefined;
    const job = await this.get(id);
    return job?.requestKey === requestKey ? job : undefined;
  }

  async transition(
    id: string,
    condition: TransitionCondition,
    patch: JobPatch,
  ): Promise<TransitionResult> {
    const args = Object.entries(patchToFields(patch)).flat();
    const [outcome, flat] = (await this.scripts.copilotTransition(
      this.jobKey(id),
      this.waitingList,
      `${this.ns}leases`,
      `${this.ns}request:`,
      `${this.ns}account:`,
      id,
      condition.from.join(','),
      condition.leaseId ?? '',
      condition.expiredBefore === undefined ? '' : String(condition.expiredBefore),
      ...args,
    )) as [string, string[] | undefined];
    const job = flat && flat.length > 0 ? recordFromFields(fieldsFromFlat(flat)) : undefined;
    if (outcome === 'ok' && job) return { ok: true, job };
    if (outcome === 'missing' || !job) return { ok: false, reason: 'missing' };
    if (outcome === 'state' || outcome === 'lease' || outcome === 'not-expired') {
      return { ok: false, reason: outcome, job };
    }
    throw new JobQueueError(`unexpected answer from the transition script: ${outcome}`);
  }

  expiredLeases(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(`${this.ns}leases`, '-inf', now);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
