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
 * - `ns owner-jobs:<owner>`: sorted set of the owner's queued job ids, by priority (highest
 *   first), then seq; the order within an owner that jobs are handed out in.
 * - `ns owners:waiting`: set of the owners with queued jobs; `ns owners`: every owner seen.
 * - `ns owner:<owner>`: hash of the owner's `active` jobs (leased, running, uploading) and its
 *   decayed lease count `usage` as of `usageAt` (fair-share.ts), kept by the transition script.
 * - `ns owners:v1`: set once the owner keys were built from a store made before them.
 *
 * The waiting list is still kept (the report's layout, for tools that read it), but jobs are
 * handed out from the owners' sorted sets, by fair share, in the queued script.
 *
 * Every transition is one Lua script, so the check and the change are atomic across all
 * manager instances sharing the server.
 */
import { Redis } from 'ioredis';
import { assertValidJobId } from '@copilot/protocol';
import {
  MAX_PRIORITY,
  patchToFields,
  recordFromFields,
  recordToFields,
  validateJobSpec,
  type JobPatch,
  type JobRecord,
  type JobSpec,
} from './job-record';
import type { OwnerStats } from './fair-share';
import { DEFAULT_OWNER_POLICY, formatPerOwner, valueFor, type OwnerPolicy } from './owner-policy';
import {
  countByOwner,
  JobQueueError,
  OwnerQuotaError,
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
  /** Fair share and quotas (JM_OWNER_*); the defaults when not given. */
  policy?: OwnerPolicy;
}

/**
 * Lua helpers: an owner's queued-set score (priority first, highest lowest, then seq; exact in
 * a double for |priority| <= MAX_PRIORITY and seq < 2^40), a per-owner setting from its text
 * (`fallback name=value …`, formatPerOwner), and the active states.
 */
const LUA_HELPERS = `
local function score(priority, seq) return (${MAX_PRIORITY} - priority) * 1099511627776 + seq end
local function perOwner(text)
  local values = { fallback = tonumber(string.match(text, '^(%S+)')), named = {} }
  for name, value in string.gmatch(text, '(%S+)=(%S+)') do values.named[name] = tonumber(value) end
  return function(owner) return values.named[owner] or values.fallback end
end
local function active(s) return s == 'leased' or s == 'running' or s == 'uploading' end
`;

// KEYS: job hash, waiting list, jobs zset, seq counter, the owner's queued set, owners with
//       queued jobs, every owner.
// ARGV: id, owner, the owner's JM_OWNER_MAX_QUEUED (0 = none), then field/value pairs.
// Returns the seq, 0 when the id exists, -1 when the owner is at its cap.
const ADD_SCRIPT = `${LUA_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local cap = tonumber(ARGV[3])
if cap > 0 and redis.call('ZCARD', KEYS[5]) >= cap then return -1 end
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'seq', seq)
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
local priority = tonumber(redis.call('HGET', KEYS[1], 'priority') or '0')
redis.call('ZADD', KEYS[5], score(priority, seq), ARGV[1])
redis.call('SADD', KEYS[6], ARGV[2])
redis.call('SADD', KEYS[7], ARGV[2])
return seq
`;

// KEYS: job hash, waiting list, leases zset, request key prefix (ns .. 'request:'),
//       account set prefix (ns .. 'account:'), owner hash prefix (ns .. 'owner:'), owner
//       queued-set prefix (ns .. 'owner-jobs:'), owners with queued jobs
// ARGV: id, allowed states (comma list), leaseId ('' = any), expiredBefore ('' = none), now
//       (ms), fair-share half-life (ms), JM_OWNER_MAX_RUNNING (formatPerOwner), then
//       field/value pairs ('' removes the field).
// Returns {outcome, fields of the job as the script left it}, so the caller sees exactly the
// record this transition produced (or refused), not one changed since by another manager.
// A job id is in the waiting list and its owner's queued set exactly while it is queued, once.
// A lease (queued to active) is refused ('quota') while the owner is at its running cap, and
// adds one to the owner's decayed usage.
const TRANSITION_SCRIPT = `${LUA_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local function account(agent)
  if not agent then return nil end
  local slash = string.find(agent, '/', 1, true)
  if slash then agent = string.sub(agent, 1, slash - 1) end
  return string.lower(agent)
end
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
local owner = redis.call('HGET', KEYS[1], 'owner') or ''
local target = state
for i = 8, #ARGV, 2 do if ARGV[i] == 'state' then target = ARGV[i + 1] end end
local leasing = state == 'queued' and active(target)
if leasing then
  local cap = perOwner(ARGV[7])(owner)
  if cap > 0 and tonumber(redis.call('HGET', KEYS[6] .. owner, 'active') or '0') >= cap then
    return {'quota', redis.call('HGETALL', KEYS[1])}
  end
end
for i = 8, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  if ARGV[i] == 'requestKey' and ARGV[i + 1] ~= '' then
    redis.call('SET', KEYS[4] .. ARGV[i + 1], ARGV[1], 'EX', 1209600)
  end
end
local now = redis.call('HGET', KEYS[1], 'state')
local newOwner = redis.call('HGET', KEYS[1], 'owner') or ''
if now == 'queued' then
  if state ~= 'queued' then redis.call('LPUSH', KEYS[2], ARGV[1]) end
elseif state == 'queued' then
  -- Only a job leaving the queue is in the list; it is usually near the head, where LREM stops.
  redis.call('LREM', KEYS[2], 1, ARGV[1])
end
if state == 'queued' then
  redis.call('ZREM', KEYS[7] .. owner, ARGV[1])
  if redis.call('ZCARD', KEYS[7] .. owner) == 0 then redis.call('SREM', KEYS[8], owner) end
end
if now == 'queued' then
  local priority = tonumber(redis.call('HGET', KEYS[1], 'priority') or '0')
  local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
  redis.call('ZADD', KEYS[7] .. newOwner, score(priority, seq), ARGV[1])
  redis.call('SADD', KEYS[8], newOwner)
end
if active(state) then redis.call('HINCRBY', KEYS[6] .. owner, 'active', -1) end
if active(now) then redis.call('HINCRBY', KEYS[6] .. newOwner, 'active', 1) end
if leasing and active(now) then
  local key = KEYS[6] .. newOwner
  local usage = tonumber(redis.call('HGET', key, 'usage') or '0')
  local at = tonumber(redis.call('HGET', key, 'usageAt') or ARGV[5])
  local halfLife = tonumber(ARGV[6])
  if halfLife > 0 then
    usage = usage * math.pow(2, -math.max(0, tonumber(ARGV[5]) - at) / halfLife)
  else
    usage = 0
  end
  redis.call('HSET', key, 'usage', tostring(usage + 1), 'usageAt', ARGV[5])
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

// KEYS: owners with queued jobs, owner hash prefix, owner queued-set prefix, job hash prefix.
// ARGV: how many jobs, now (ms), half-life (ms), JM_OWNER_SHARES, JM_OWNER_MAX_RUNNING (both
// formatPerOwner).
// The first queued jobs by fair share (fair-share.ts rankOwners, the same formula), with their
// fields, in one round trip. Ids without a job hash are passed over, not counted.
const QUEUED_SCRIPT = `${LUA_HELPERS}
local limit, now, halfLife = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local shareOf, capOf = perOwner(ARGV[4]), perOwner(ARGV[5])
local ranked = {}
for _, owner in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local stats = redis.call('HMGET', KEYS[2] .. owner, 'active', 'usage', 'usageAt')
  local busy = tonumber(stats[1] or '0')
  local cap = capOf(owner)
  if cap <= 0 or busy < cap then
    local usage = tonumber(stats[2] or '0')
    if halfLife > 0 and usage > 0 then
      usage = usage * math.pow(2, -math.max(0, now - tonumber(stats[3] or ARGV[2])) / halfLife)
    else
      usage = 0
    end
    ranked[#ranked + 1] = { owner, (busy + usage) / shareOf(owner) }
  end
end
table.sort(ranked, function(a, b)
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[1] < b[1]
end)
local jobs = {}
for _, entry in ipairs(ranked) do
  local key, start = KEYS[3] .. entry[1], 0
  while #jobs < limit do
    local ids = redis.call('ZRANGE', key, start, start + limit - #jobs - 1)
    if #ids == 0 then break end
    start = start + #ids
    for _, id in ipairs(ids) do
      local fields = redis.call('HGETALL', KEYS[4] .. id)
      if #fields > 0 then jobs[#jobs + 1] = fields end
    end
  end
  if #jobs >= limit then break end
end
return jobs
`;

// KEYS: marker, waiting list, leases zset, owners with queued jobs, every owner.
// ARGV: job hash prefix, owner hash prefix, owner queued-set prefix.
// Builds the owner keys once from a store made before them (queued and active jobs).
const OWNER_KEYS_SCRIPT = `${LUA_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local key = ARGV[1] .. id
  if redis.call('HGET', key, 'state') == 'queued' then
    local owner = redis.call('HGET', key, 'owner') or ''
    local priority = tonumber(redis.call('HGET', key, 'priority') or '0')
    local seq = tonumber(redis.call('HGET', key, 'seq') or '0')
    redis.call('ZADD', ARGV[3] .. owner, score(priority, seq), id)
    redis.call('SADD', KEYS[4], owner)
    redis.call('SADD', KEYS[5], owner)
  end
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local key = ARGV[1] .. id
  if active(redis.call('HGET', key, 'state')) then
    local owner = redis.call('HGET', key, 'owner') or ''
    redis.call('HINCRBY', ARGV[2] .. owner, 'active', 1)
    redis.call('SADD', KEYS[5], owner)
  end
end
redis.call('SET', KEYS[1], '1')
return 1
`;

/** The scripts, sent once and then run by their SHA1 (EVALSHA) rather than as text each time. */
const SCRIPTS = {
  copilotAddJob: { lua: ADD_SCRIPT, numberOfKeys: 7 },
  copilotTransition: { lua: TRANSITION_SCRIPT, numberOfKeys: 8 },
  copilotQueued: { lua: QUEUED_SCRIPT, numberOfKeys: 4, readOnly: true },
  copilotOwnerKeys: { lua: OWNER_KEYS_SCRIPT, numberOfKeys: 5 },
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
  private readonly policy: OwnerPolicy;
  /** JM_OWNER_SHARES and JM_OWNER_MAX_RUNNING as the scripts read them. */
  private readonly sharesText: string;
  private readonly maxRunningText: string;
  /** Resolves once the owner keys exist (built once per store from older data). */
  private ownerKeys: Promise<void> | undefined;

  constructor(readonly options: RedisJobQueueOptions) {
    const target = redisTarget(options.server);
    const common = {
      lazyConnect: false,
      maxRetriesPerRequest: 3,
      enableOfflineQueue: true,
      // Commands issued in the same tick (many agents' requests at once) go out in one write;
      // each write is a system call (ioredis's sendCommand: 10-16 % of the manager's profile).
      enableAutoPipelining: true,
    };
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
      copilotOwnerKeys: commands.copilotOwnerKeys.bind(this.redis),
    };
    this.waitingList = options.waitingList ?? 'waiting-jobs';
    this.ns = options.namespace ?? 'copilot:';
    this.policy = options.policy ?? DEFAULT_OWNER_POLICY;
    this.sharesText = formatPerOwner(this.policy.shares);
    this.maxRunningText = formatPerOwner(this.policy.maxRunning);
  }

  /** Builds the owner keys of a store made before them, once (the script checks a marker). */
  private ready(): Promise<void> {
    this.ownerKeys ??= this.scripts
      .copilotOwnerKeys(
        `${this.ns}owners:v1`,
        this.waitingList,
        `${this.ns}leases`,
        `${this.ns}owners:waiting`,
        `${this.ns}owners`,
        `${this.ns}job:`,
        `${this.ns}owner:`,
        `${this.ns}owner-jobs:`,
      )
      .then(
        () => undefined,
        (error: unknown) => {
          this.ownerKeys = undefined;
          throw error;
        },
      );
    return this.ownerKeys;
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
    const owner = spec.owner ?? '';
    return [
      this.jobKey(id),
      this.waitingList,
      `${this.ns}jobs`,
      `${this.ns}seq`,
      `${this.ns}owner-jobs:${owner}`,
      `${this.ns}owners:waiting`,
      `${this.ns}owners`,
      id,
      owner,
      String(valueFor(this.policy.maxQueued, owner)),
      ...Object.entries(fields).flat(),
    ];
  }

  /** Throws OwnerQuotaError when the jobs would take an owner past JM_OWNER_MAX_QUEUED. */
  private async checkQueuedCaps(jobs: ReadonlyArray<NewJob>): Promise<void> {
    for (const [owner, adding] of countByOwner(jobs)) {
      const cap = valueFor(this.policy.maxQueued, owner);
      if (cap <= 0) continue;
      const queued = await this.redis.zcard(`${this.ns}owner-jobs:${owner}`);
      if (queued + adding > cap) throw new OwnerQuotaError(owner, queued, adding, cap);
    }
  }

  async add(id: string, spec: JobSpec, now = Date.now()): Promise<JobRecord> {
    const args = this.addArgs(id, spec, now);
    await this.ready();
    const seq = (await this.scripts.copilotAddJob(...args)) as number;
    if (seq === 0) throw new JobQueueError(`job ${id} already exists`);
    if (seq === -1) await this.checkQueuedCaps([{ id, spec }]);
    if (seq < 0) throw new JobQueueError(`job ${id}: its owner is at JM_OWNER_MAX_QUEUED`);
    const record = await this.get(id);
    if (!record) throw new JobQueueError(`job ${id} vanished after it was added`);
    return record;
  }

  async addMany(jobs: ReadonlyArray<NewJob>, now = Date.now()): Promise<JobRecord[]> {
    const calls = jobs.map(({ id, spec }) => this.addArgs(id, spec, now));
    if (calls.length === 0) return [];
    await this.ready();
    await this.checkQueuedCaps(jobs);
    const pipeline = this.redis.pipeline();
    // defineCommand adds each script to pipelines too, which ioredis's types cannot know about.
    const scripted = pipeline as unknown as Record<'copilotAddJob', (...args: string[]) => void>;
    for (const args of calls) scripted.copilotAddJob(...args);
    const results = (await pipeline.exec()) ?? [];
    const refused = jobs.filter((job, index) => {
      const [error, seq] = results[index] ?? [new Error('no answer'), 0];
      return error !== null || typeof seq !== 'number' || seq <= 0;
    });
    if (refused.length > 0) {
      throw new JobQueueError(
        `${refused.length} of ${jobs.length} jobs not stored (first: ${refused[0]?.id ?? ''}; a duplicate id or the owner at JM_OWNER_MAX_QUEUED)`,
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
    await this.ready();
    const jobs = (await this.scripts.copilotQueued(
      `${this.ns}owners:waiting`,
      `${this.ns}owner:`,
      `${this.ns}owner-jobs:`,
      `${this.ns}job:`,
      String(Math.max(1, limit)),
      String(Date.now()),
      String(this.policy.halfLifeMs),
      this.sharesText,
      this.maxRunningText,
    )) as string[][];
    return jobs
      .map((flat) => recordFromFields(fieldsFromFlat(flat)))
      .filter((job) => job.state === 'queued');
  }

  async owners(): Promise<OwnerStats[]> {
    await this.ready();
    const names = (await this.redis.smembers(`${this.ns}owners`)).sort();
    if (names.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const owner of names) {
      pipeline.zcard(`${this.ns}owner-jobs:${owner}`);
      pipeline.hmget(`${this.ns}owner:${owner}`, 'active', 'usage', 'usageAt');
    }
    const results = (await pipeline.exec()) ?? [];
    return names.map((owner, index) => {
      const [queuedError, queued] = results[index * 2] ?? [null, 0];
      const [statsError, stats] = results[index * 2 + 1] ?? [null, []];
      if (queuedError) throw queuedError;
      if (statsError) throw statsError;
      const [active, usage, usageAt] = (stats as Array<string | null>).map((value) =>
        Number(value ?? 0),
      );
      return {
        owner,
        queued: Number(queued),
        active: active ?? 0,
        usage: usage ?? 0,
        usageAt: usageAt ?? 0,
      };
    });
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
    await this.ready();
    const [outcome, flat] = (await this.scripts.copilotTransition(
      this.jobKey(id),
      this.waitingList,
      `${this.ns}leases`,
      `${this.ns}request:`,
      `${this.ns}account:`,
      `${this.ns}owner:`,
      `${this.ns}owner-jobs:`,
      `${this.ns}owners:waiting`,
      id,
      condition.from.join(','),
      condition.leaseId ?? '',
      condition.expiredBefore === undefined ? '' : String(condition.expiredBefore),
      String(Date.now()),
      String(this.policy.halfLifeMs),
      this.maxRunningText,
      ...args,
    )) as [string, string[] | undefined];
    const job = flat && flat.length > 0 ? recordFromFields(fieldsFromFlat(flat)) : undefined;
    if (outcome === 'ok' && job) return { ok: true, job };
    if (outcome === 'missing' || !job) return { ok: false, reason: 'missing' };
    if (
      outcome === 'state' ||
      outcome === 'lease' ||
      outcome === 'not-expired' ||
      outcome === 'quota'
    ) {
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
