/**
 * `npm run bench -- --server=prosody|ejabberd|ejabberd-cluster` (issue #14): what scale-out
 * buys, all in one run on one server kind.
 *
 * - Relay ceiling: two plain sessions (one on each node of a cluster) bounce noack commands
 *   with a window of messages in flight; stanzas/s through the server.
 * - Dispatch with one and with two managers on one Redis queue (shared storage and done dir),
 *   the simulated agents split between them, and the ratio jobs/s × stanzas per job ÷ relay
 *   stanzas/s, with the 18 stanzas of a job and with the stanzas counted in the run.
 * - Footprint at 1k, 5k, 10k connected agents with the Heartbeat room joined (the room set to
 *   broadcast occupants' presence to nobody): room join time, RSS and CPU per connected agent
 *   of the server and of the manager (agents polling want_getJob), and how long an owner of the
 *   room takes to list every occupant (what copilot-heartbeat does).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Element } from '@xmpp/xml';
import { CopilotSession } from '@copilot/transport';
import { HeartbeatRoom } from '@copilot/heartbeat/heartbeat-room';
import { submitJob } from '@manager/job-manager/job-submission';
import {
  startEjabberd,
  startEjabberdCluster,
  startProsody,
  startRedis,
  type ProsodyServer,
  type RedisServer,
  type XmppUser,
} from '@test/harness';
import { AgentPool, RESOURCES_PER_ACCOUNT, benchAccounts } from './agent-pool';
import { ProcSampler, readProc, type UsageSummary } from './lib/proc-stats';
import type { Cell } from './lib/table';
import { round, sleep } from './lib/stats';
import { startManagerProcess, type ManagerProcess } from './manager-process';
import { stanzaCount } from './sim-agent';
import { installFastScram } from './lib/fast-scram';
import { installLateDataGuard, lateData } from './lib/late-data-guard';

export const BENCH_SERVER_KINDS = ['prosody', 'ejabberd', 'ejabberd-cluster'] as const;
export type BenchServerKind = (typeof BENCH_SERVER_KINDS)[number];

/** Stanzas of one job through the server: 9 commands and their 9 acks (bench/README.md). */
export const STANZAS_PER_JOB = 18;
const ROOM = 'heartbeat-bench';
const MANAGER: XmppUser = { username: 'benchjm', password: 'bench-jm-password' };
const OWNER: XmppUser = { username: 'benchmonitor', password: 'bench-monitor-password' };
const RELAY: XmppUser[] = [
  { username: 'relaya', password: 'relay-a-password' },
  { username: 'relayb', password: 'relay-b-password' },
];

type Endpoint = Pick<ProsodyServer, 'service' | 'port' | 'domain'>;

interface BenchServers {
  kind: BenchServerKind;
  nodes: Endpoint[];
  domain: string;
  mucDomain: string;
  pids: () => number[];
  stop: () => Promise<void>;
}

export interface RelayResult {
  window: number;
  seconds: number;
  stanzasPerSecond: number;
  serverCpuPercent: number;
  clientCpuPercent: number;
}

export interface ScaleOutDispatch {
  managers: number;
  agents: number;
  jobs: number;
  completed: number;
  seconds: number;
  jobsPerSecond: number;
  stanzasPerJob: number;
  /** jobsPerSecond × 18 ÷ relay stanzas/s. */
  ratio: number;
  /** jobsPerSecond × stanzasPerJob (measured) ÷ relay stanzas/s. */
  ratioMeasured: number;
  serverCpuPercent: number;
  managerCpuPercent: number[];
  redisCpuPercent: number;
  agentsCpuPercent: number;
  /** want_getJob nobody offered for, getJob refused (another manager leased the job first). */
  noOffer: number;
  noJob: number;
}

export interface FootprintRow {
  agents: number;
  /** Time for the agents added at this size to join the room (the room holding the others). */
  joinSeconds: number;
  /** Agents whose join the room confirmed. */
  joined: number;
  /** Total time to this size: joins of every step so far. */
  joinSecondsCumulative: number;
  /** How long the room's owner took to list every occupant (muc#admin), and how many. */
  listSeconds: number;
  listed: number;
  serverRssMiB: number;
  serverKiBPerAgent: number;
  serverCpuPercentSilent: number;
  managerRssMiB: number;
  managerKiBPerAgent: number;
  /** RSS growth from the previous row ÷ agents added (undefined on the first row). */
  serverKiBPerAgentMarginal?: number;
  managerKiBPerAgentMarginal?: number;
  pollsPerSecond: number;
  serverCpuPercentPolling: number;
  managerCpuPercentPolling: number;
  serverCpuMsPerPoll: number;
  managerCpuMsPerPoll: number;
}

export interface ScaleOutResult {
  server: BenchServerKind;
  relay?: RelayResult;
  dispatch: ScaleOutDispatch[];
  footprint: FootprintRow[];
  serverRssBeforeAgentsMiB?: number;
  managerRssBeforeAgentsMiB?: number;
  pollIntervalMs: number;
  /** Data chunks xmpp.js got after its parser was gone (see lib/late-data-guard.ts). */
  lateDataDropped?: number;
  /** xmpp.js errors at teardown the bench counted instead of ending (same file). */
  teardownErrors?: number;
}

export interface ScaleOutOptions {
  server: BenchServerKind;
  sizes: number[];
  dispatchAgents: number;
  jobs: number;
  relaySeconds: number;
  window: number;
  pollIntervalMs: number;
  sampleSeconds: number;
  log: (line: string) => void;
}

async function startServers(kind: BenchServerKind, users: XmppUser[]): Promise<BenchServers> {
  const room = { roomPresence: 'moderators' as const, mucAdmins: [OWNER.username] };
  if (kind === 'prosody') {
    // Login cost is not what is measured: few SCRAM rounds keep 10,000 logins quick.
    const server = await startProsody({ users, scramIterations: 64, logLevel: 'warn', ...room });
    return {
      kind,
      nodes: [server],
      domain: server.domain,
      mucDomain: server.mucDomain,
      pids: () => [server.process.pid],
      stop: () => server.stop(),
    };
  }
  if (kind === 'ejabberd') {
    const server = await startEjabberd({ users: [], logLevel: 'warning', ...room });
    await server.registerUsers(users, 8);
    return {
      kind,
      nodes: [server],
      domain: server.domain,
      mucDomain: server.mucDomain,
      pids: () => [server.process.pid],
      stop: () => server.stop(),
    };
  }
  const cluster = await startEjabberdCluster({ users: [], logLevel: 'warning', ...room });
  await cluster.nodes[0].registerUsers(users, 8);
  return {
    kind,
    nodes: [...cluster.nodes],
    domain: cluster.front.domain,
    mucDomain: cluster.front.mucDomain,
    pids: () => cluster.nodes.map((node) => node.process.pid),
    stop: () => cluster.stop(),
  };
}

/** Samples several processes as one (the nodes of a cluster): CPU and RSS summed. */
class GroupSampler {
  private readonly samplers: ProcSampler[];
  constructor(pids: readonly number[]) {
    this.samplers = pids.map((pid) => new ProcSampler(pid, 250).start());
  }
  stop(): UsageSummary {
    const parts = this.samplers.map((sampler) => sampler.stop());
    const sum = (pick: (usage: UsageSummary) => number): number =>
      parts.reduce((total, usage) => total + pick(usage), 0);
    return {
      cpuPercent: sum((u) => u.cpuPercent),
      cpuSeconds: sum((u) => u.cpuSeconds),
      wallSeconds: parts[0]?.wallSeconds ?? 0,
      rssMeanBytes: sum((u) => u.rssMeanBytes),
      rssMaxBytes: sum((u) => u.rssMaxBytes),
      rssLastBytes: sum((u) => u.rssLastBytes),
      samples: parts[0]?.samples ?? 0,
    };
  }
}

function rssOf(pids: readonly number[]): number {
  return pids.reduce((total, pid) => total + (readProc(pid)?.rssBytes ?? 0), 0);
}

async function session(node: Endpoint, user: XmppUser, resource: string): Promise<CopilotSession> {
  const opened = new CopilotSession({
    service: node.service,
    domain: node.domain,
    username: user.username,
    password: user.password,
    resource,
  });
  await opened.start();
  return opened;
}

/** Two sessions bounce noack commands, `window` in flight, for `seconds`. */
export async function measureRelay(
  servers: BenchServers,
  seconds: number,
  window: number,
): Promise<RelayResult> {
  const a = await session(servers.nodes[0] as Endpoint, RELAY[0] as XmppUser, 'relay');
  const b = await session(servers.nodes.at(-1) as Endpoint, RELAY[1] as XmppUser, 'relay');
  try {
    b.onCommand((message) => {
      void b.send(message.from, { command: 'pong' }, { noack: true });
    });
    let received = 0;
    let running = true;
    const ping = (): void => {
      void a.send(b.jid, { command: 'Heartbeat:ping' }, { noack: true });
    };
    a.onCommand(() => {
      received += 1;
      if (running) ping();
    });
    // Warm up, then count over the window.
    for (let i = 0; i < window; i += 1) ping();
    await sleep(1_000);
    const serverCpu = new GroupSampler(servers.pids());
    const clientCpu = new ProcSampler(process.pid, 250).start();
    const before = received;
    const started = performance.now();
    await sleep(seconds * 1000);
    const count = received - before;
    const elapsed = (performance.now() - started) / 1000;
    running = false;
    const server = serverCpu.stop();
    const client = clientCpu.stop();
    // Let the messages in flight arrive: xmpp.js throws (uncaught, from the socket's data
    // handler) when data comes in after stop() detached its parser.
    for (let last = -1, waited = 0; received !== last && waited < 60; waited += 1) {
      last = received;
      await sleep(1_000);
    }
    return {
      window,
      seconds: round(elapsed, 1),
      stanzasPerSecond: Math.round((2 * count) / elapsed),
      serverCpuPercent: round(server.cpuPercent),
      clientCpuPercent: round(client.cpuPercent),
    };
  } finally {
    await a.stop();
    await b.stop();
  }
}

interface DispatchSetup {
  servers: BenchServers;
  accounts: XmppUser[];
  redis: RedisServer;
  jobFile: string;
  profileDir: string;
}

/** Jobs through `managers` managers on one Redis queue; agents split between them. */
export async function measureScaleOutDispatch(
  setup: DispatchSetup,
  options: { managers: number; agents: number; jobs: number; timeLimitMs: number },
  relay: RelayResult | undefined,
): Promise<ScaleOutDispatch> {
  const { servers } = setup;
  const sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-bench-shared-'));
  const managers: ManagerProcess[] = [];
  const pools: AgentPool[] = [];
  try {
    for (let index = 0; index < options.managers; index += 1) {
      managers.push(
        await startManagerProcess({
          prosody: servers.nodes[index % servers.nodes.length] as Endpoint,
          username: MANAGER.username,
          password: MANAGER.password,
          resource: `jobmanager${index}`,
          redisUrl: setup.redis.url,
          profileDir: setup.profileDir,
          sharedDir,
        }),
      );
    }
    const perManager = Math.ceil(options.agents / options.managers);
    const services = servers.nodes.map((node) => node.service);
    for (let index = 0; index < managers.length; index += 1) {
      const managerJid = `${MANAGER.username}@${servers.domain}/jobmanager${index}`;
      const pool = new AgentPool(
        servers.nodes[0] as Endpoint,
        setup.accounts,
        managerJid,
        services,
        index * perManager,
      );
      pools.push(pool);
      await pool.grow(perManager);
    }
    const queue = (managers[0] as ManagerProcess).queue;
    const paths = (managers[0] as ManagerProcess).paths;
    for (let index = 0; index < options.jobs; index += 1) {
      await submitJob(queue, paths, { commandFile: setup.jobFile });
    }
    const serverCpu = new GroupSampler(servers.pids());
    const managerCpu = managers.map((manager) => new ProcSampler(manager.process.pid, 250).start());
    const redisCpu = new ProcSampler(setup.redis.process.pid, 250).start();
    const agentsCpu = new ProcSampler(process.pid, 250).start();
    const started = performance.now();
    const done = (): number => pools.reduce((total, pool) => total + pool.counters.jobsDone, 0);
    for (const pool of pools)
      pool.startLoops(perManager, { replyTimeoutMs: 10_000, idleRetryMs: 5_000 });
    while (done() < options.jobs && performance.now() - started < options.timeLimitMs)
      await sleep(50);
    const seconds = (performance.now() - started) / 1000;
    const server = serverCpu.stop();
    const managerUsage = managerCpu.map((sampler) => sampler.stop());
    const redisUsage = redisCpu.stop();
    const agentsUsage = agentsCpu.stop();
    for (const pool of pools) await pool.stopLoops();
    const completed = done();
    const stanzas = pools.reduce((total, pool) => total + stanzaCount(pool.counters), 0);
    const jobsPerSecond = completed / seconds;
    const stanzasPerJob = completed > 0 ? stanzas / completed : 0;
    const ceiling = relay?.stanzasPerSecond ?? Number.NaN;
    return {
      managers: options.managers,
      agents: perManager * options.managers,
      jobs: options.jobs,
      completed,
      seconds: round(seconds, 1),
      jobsPerSecond: round(jobsPerSecond, 1),
      stanzasPerJob: round(stanzasPerJob, 1),
      ratio: round((jobsPerSecond * STANZAS_PER_JOB) / ceiling, 3),
      ratioMeasured: round((jobsPerSecond * stanzasPerJob) / ceiling, 3),
      serverCpuPercent: round(server.cpuPercent),
      managerCpuPercent: managerUsage.map((usage) => round(usage.cpuPercent)),
      redisCpuPercent: round(redisUsage.cpuPercent),
      agentsCpuPercent: round(agentsUsage.cpuPercent),
      noOffer: pools.reduce((total, pool) => total + pool.counters.noOffer, 0),
      noJob: pools.reduce((total, pool) => total + pool.counters.noJob, 0),
    };
  } finally {
    for (const pool of pools) await pool.close().catch(() => undefined);
    for (const manager of managers) await manager.stop().catch(() => undefined);
    fs.rmSync(sharedDir, { recursive: true, force: true });
  }
}

/** Joins `agents` to the room, `concurrency` joins in flight; resolves with those confirmed. */
async function joinRoom(
  sessions: readonly CopilotSession[],
  roomJid: string,
  concurrency: number,
  timeoutMs: number,
): Promise<number> {
  let next = 0;
  let joined = 0;
  const joinOne = (agent: CopilotSession): Promise<void> =>
    new Promise((resolve) => {
      const nick = agent.jid.slice(agent.jid.indexOf('/') + 1);
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        agent.events.off('presence', onPresence);
        resolve();
      }
      function onPresence(stanza: Element): void {
        if (stanza.attrs.from !== `${roomJid}/${nick}` || stanza.attrs.type !== undefined) return;
        joined += 1;
        done();
      }
      agent.events.on('presence', onPresence);
      agent.joinRoom(roomJid, nick);
    });
  const worker = async (): Promise<void> => {
    while (next < sessions.length) {
      const agent = sessions[next] as CopilotSession;
      next += 1;
      await joinOne(agent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return joined;
}

async function footprintRows(
  servers: BenchServers,
  pool: AgentPool,
  manager: ManagerProcess,
  owner: HeartbeatRoom,
  options: ScaleOutOptions,
  before: { server: number; manager: number },
): Promise<FootprintRow[]> {
  const rows: FootprintRow[] = [];
  const roomJid = `${ROOM}@${servers.mucDomain}`;
  let cumulative = 0;
  for (const size of options.sizes) {
    const from = pool.size;
    options.log(`  connecting agents ${from} → ${size}…`);
    const connectMs = await pool.grow(size);
    options.log(`    connected in ${round(connectMs / 1000)} s; joining the room…`);
    const fresh = pool.agents.slice(from).map((agent) => agent.session);
    const joinStarted = performance.now();
    const joined = await joinRoom(fresh, roomJid, 100, 60_000);
    const joinSeconds = (performance.now() - joinStarted) / 1000;
    cumulative += joinSeconds;
    options.log(`    ${joined}/${fresh.length} joined in ${round(joinSeconds)} s; listing…`);
    const listStarted = performance.now();
    await owner.refreshMembers(120_000);
    const listSeconds = (performance.now() - listStarted) / 1000;
    const listed = owner.members().length;
    await sleep(2_000);
    const silentServer = new GroupSampler(servers.pids());
    await sleep(options.sampleSeconds * 1000);
    const silent = silentServer.stop();
    pool.resetCounters();
    pool.startLoops(size, { replyTimeoutMs: 2_000, idleRetryMs: options.pollIntervalMs });
    await sleep(options.pollIntervalMs);
    const sentBefore = pool.counters.commandsSent;
    const pollServer = new GroupSampler(servers.pids());
    const pollManager = new ProcSampler(manager.process.pid, 250).start();
    await sleep(options.sampleSeconds * 1000);
    const polling = pollServer.stop();
    const managerPolling = pollManager.stop();
    const polls = pool.counters.commandsSent - sentBefore;
    await pool.stopLoops();
    const pollsPerSecond = polls / options.sampleSeconds;
    const serverRss = silent.rssLastBytes;
    const managerRss = managerPolling.rssMaxBytes;
    rows.push({
      agents: size,
      joinSeconds: round(joinSeconds, 2),
      joined: from + joined,
      joinSecondsCumulative: round(cumulative, 2),
      listSeconds: round(listSeconds, 2),
      listed,
      serverRssMiB: round(serverRss / 2 ** 20),
      serverKiBPerAgent: round((serverRss - before.server) / 1024 / size),
      serverCpuPercentSilent: round(silent.cpuPercent),
      managerRssMiB: round(managerRss / 2 ** 20),
      managerKiBPerAgent: round((managerRss - before.manager) / 1024 / size),
      pollsPerSecond: round(pollsPerSecond),
      serverCpuPercentPolling: round(polling.cpuPercent),
      managerCpuPercentPolling: round(managerPolling.cpuPercent),
      serverCpuMsPerPoll: round((1000 * polling.cpuSeconds) / Math.max(1, polls), 3),
      managerCpuMsPerPoll: round((1000 * managerPolling.cpuSeconds) / Math.max(1, polls), 3),
    });
    const previous = rows.at(-2);
    const latest = rows.at(-1) as FootprintRow;
    if (previous) {
      const added = latest.agents - previous.agents;
      latest.serverKiBPerAgentMarginal = round(
        ((latest.serverRssMiB - previous.serverRssMiB) * 1024) / added,
      );
      latest.managerKiBPerAgentMarginal = round(
        ((latest.managerRssMiB - previous.managerRssMiB) * 1024) / added,
      );
    }
    options.log(`    ${JSON.stringify(latest)}`);
  }
  return rows;
}

/** Runs the three measurements on one server kind. */
export async function runScaleOut(
  options: ScaleOutOptions,
  jobFile: string,
  profileDir: string,
): Promise<ScaleOutResult> {
  installFastScram();
  await installLateDataGuard();
  const maxAgents = Math.max(...options.sizes, options.dispatchAgents);
  const accounts = benchAccounts(maxAgents + options.dispatchAgents);
  const result: ScaleOutResult = {
    server: options.server,
    dispatch: [],
    footprint: [],
    pollIntervalMs: options.pollIntervalMs,
  };
  options.log(
    `\n[scale-out] ${options.server}: ${accounts.length} accounts × ${RESOURCES_PER_ACCOUNT} resources`,
  );
  const registered = performance.now();
  const servers = await startServers(options.server, [MANAGER, OWNER, ...RELAY, ...accounts]);
  options.log(
    `  servers up, accounts registered in ${round((performance.now() - registered) / 1000)} s`,
  );
  let redis: RedisServer | undefined;
  try {
    options.log(`  relay ceiling, window ${options.window}…`);
    result.relay = await measureRelay(servers, options.relaySeconds, options.window);
    options.log(`    ${JSON.stringify(result.relay)}`);
    redis = await startRedis();
    for (const managers of [1, 2]) {
      options.log(`  dispatch: ${managers} manager(s) on Redis, ${options.dispatchAgents} agents…`);
      const row = await measureScaleOutDispatch(
        { servers, accounts, redis, jobFile, profileDir },
        { managers, agents: options.dispatchAgents, jobs: options.jobs, timeLimitMs: 90_000 },
        result.relay,
      );
      result.dispatch.push(row);
      options.log(`    ${JSON.stringify(row)}`);
    }
    await redis.stop();
    redis = undefined;
    result.footprint = await measureFootprint(servers, accounts, options, profileDir, result);
  } finally {
    await redis?.stop().catch(() => undefined);
    await servers.stop().catch(() => undefined);
  }
  result.lateDataDropped = lateData.dropped;
  result.teardownErrors = lateData.teardownErrors;
  return result;
}

async function measureFootprint(
  servers: BenchServers,
  accounts: XmppUser[],
  options: ScaleOutOptions,
  profileDir: string,
  result: ScaleOutResult,
): Promise<FootprintRow[]> {
  const node = servers.nodes[0] as Endpoint;
  const manager = await startManagerProcess({
    prosody: node,
    username: MANAGER.username,
    password: MANAGER.password,
    profileDir,
  });
  const ownerSession = await session(node, OWNER, 'monitor');
  const owner = new HeartbeatRoom(ownerSession, {
    roomJid: `${ROOM}@${servers.mucDomain}`,
    nick: 'monitor',
  });
  const pool = new AgentPool(
    node,
    accounts,
    manager.jid,
    servers.nodes.map((n) => n.service),
  );
  try {
    await owner.join(30_000);
    await sleep(2_000);
    const before = {
      server: rssOf(servers.pids()),
      manager: readProc(manager.process.pid)?.rssBytes ?? 0,
    };
    result.serverRssBeforeAgentsMiB = round(before.server / 2 ** 20);
    result.managerRssBeforeAgentsMiB = round(before.manager / 2 ** 20);
    return await footprintRows(servers, pool, manager, owner, options, before);
  } finally {
    owner.leave();
    await ownerSession.stop();
    await pool.close().catch(() => undefined);
    await manager.stop().catch(() => undefined);
  }
}

/** The scale-out tables (one server kind per run; several results side by side). */
export function scaleOutTables(
  results: readonly ScaleOutResult[],
  formatTable: (title: string, headers: string[], rows: Cell[][]) => string,
): string[] {
  const dispatchRows: Cell[][] = results.flatMap((r) =>
    r.dispatch.map((d) => [
      r.server,
      r.relay?.stanzasPerSecond,
      d.managers,
      d.agents,
      `${d.completed}/${d.jobs}`,
      d.jobsPerSecond,
      d.stanzasPerJob,
      d.ratio,
      d.ratioMeasured,
      d.serverCpuPercent,
      d.managerCpuPercent.join(' + '),
      d.redisCpuPercent,
      d.agentsCpuPercent,
      `${d.noOffer} / ${d.noJob}`,
    ]),
  );
  const footprintRows: Cell[][] = results.flatMap((r) =>
    r.footprint.map((f) => [
      r.server,
      f.agents,
      `${f.joined}`,
      f.joinSeconds,
      f.joinSecondsCumulative,
      `${f.listed} in ${f.listSeconds} s`,
      f.serverRssMiB,
      f.serverKiBPerAgent,
      f.serverKiBPerAgentMarginal,
      f.serverCpuPercentSilent,
      f.managerRssMiB,
      f.managerKiBPerAgent,
      f.managerKiBPerAgentMarginal,
      f.pollsPerSecond,
      f.serverCpuMsPerPoll,
      f.managerCpuMsPerPoll,
    ]),
  );
  return [
    formatTable(
      'Relay ceiling and dispatch (Redis queue, managers share it; ratio = jobs/s × 18 ÷ relay stanzas/s)',
      [
        'server',
        'relay stanzas/s',
        'managers',
        'agents',
        'jobs',
        'jobs/s',
        'stanzas/job',
        'ratio',
        'ratio (measured stanzas)',
        'server %',
        'manager %',
        'redis %',
        'agents %',
        'no offer / no job',
      ],
      dispatchRows,
    ),
    formatTable(
      'Connected agents with the Heartbeat room joined (presence to nobody; per agent = growth since no agents ÷ N)',
      [
        'server',
        'agents',
        'in room',
        'join s (this step)',
        'join s (total)',
        'owner lists',
        'server RSS MiB',
        'server KiB/agent',
        'marginal',
        'server % silent',
        'manager RSS MiB',
        'manager KiB/agent',
        'marginal',
        'polls/s',
        'server CPU ms/poll',
        'manager CPU ms/poll',
      ],
      footprintRows,
    ),
  ];
}
