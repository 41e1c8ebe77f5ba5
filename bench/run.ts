/**
 * npm run bench [-- --quick] [--only=baseline,batch,container,agent,dispatch,scale,latency,thermal]
 *                [--agents=10,100,1000] [--queues=sqlite,redis] [--no-profile]
 * npm run bench -- --report=bench/results/<file>.json   (prints an earlier run's tables)
 * npm run bench -- --server=prosody|ejabberd|ejabberd-cluster [--sizes=1000,5000,10000]
 *                (scale-out: relay ceiling, 1 and 2 managers, connected agents in the room)
 *
 * Measures Co-Pilot against real servers on loopback (a private Prosody and Redis from the test
 * harness, the real manager in a child process, dockerd), prints tables and writes every figure
 * as JSON to bench/results/<timestamp>.json. These are measurements, not pass/fail tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  REPO_ROOT,
  startProsody,
  startRedis,
  type ProsodyServer,
  type RedisServer,
  type XmppUser,
} from '@test/harness';
import { AgentPool, benchAccounts } from './agent-pool';
import { measureAgentFootprint, type AgentFootprintResult } from './agent-footprint';
import { runBaseline, type BaselineResult } from './baseline';
import { measureBatchSubmit, type BatchSubmitResult } from './batch-submit';
import { measureContainer, type ContainerResult } from './container';
import { runThermalThrottle, type ThermalThrottleResult } from './thermal-throttle';
import {
  managerRss,
  measureLatency,
  measureScale,
  measureThroughput,
  writeJobFile,
  type DispatchContext,
  type LatencyResult,
  type ScaleResult,
  type ThroughputResult,
} from './dispatch';
import { BENCH_TMP } from './lib/bundle';
import { mib, round } from './lib/stats';
import { formatTable } from './lib/table';
import { startManagerProcess } from './manager-process';
import {
  BENCH_SERVER_KINDS,
  runScaleOut,
  scaleOutTables,
  type BenchServerKind,
  type ScaleOutResult,
} from './scale-out';

const SECTIONS = [
  'baseline',
  'batch',
  'container',
  'agent',
  'dispatch',
  'scale',
  'latency',
  'thermal',
] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  quick: boolean;
  only: Set<Section>;
  agents: number[];
  queues: Array<'sqlite' | 'redis'>;
  /** --owners: each dispatch row is run once per owner count (jobs spread over the owners). */
  owners: number[];
  profile: boolean;
  /** --server: the scale-out measurements (relay ceiling, 1 and 2 managers, 1k–10k agents). */
  servers: BenchServerKind[];
  /** --sizes: connected agents for the scale-out footprint rows. */
  sizes: number[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    quick: false,
    only: new Set(SECTIONS),
    agents: [10, 100, 1000],
    queues: ['sqlite', 'redis'],
    owners: [1],
    profile: true,
    servers: [],
    sizes: [1000, 5000, 10_000],
  };
  for (const arg of argv) {
    const [name, value = ''] = arg.split('=', 2);
    if (name === '--quick') options.quick = true;
    else if (name === '--no-profile') options.profile = false;
    else if (name === '--only') {
      const wanted = value.split(',').filter(Boolean);
      for (const section of wanted) {
        if (!(SECTIONS as readonly string[]).includes(section))
          throw new Error(`unknown section ${section}; sections: ${SECTIONS.join(', ')}`);
      }
      options.only = new Set(wanted as Section[]);
    } else if (name === '--agents') {
      options.agents = value.split(',').map(Number);
      if (options.agents.some((n) => !Number.isInteger(n) || n < 1 || n > 2000))
        throw new Error('--agents takes integers between 1 and 2000');
    } else if (name === '--owners') {
      options.owners = value.split(',').map(Number);
      if (options.owners.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000))
        throw new Error('--owners takes integers between 1 and 10000');
    } else if (name === '--queues') {
      const queues = value.split(',');
      if (queues.some((q) => q !== 'sqlite' && q !== 'redis'))
        throw new Error('--queues takes sqlite and/or redis');
      options.queues = queues as Array<'sqlite' | 'redis'>;
    } else if (name === '--server') {
      const kinds = value.split(',');
      if (kinds.some((kind) => !(BENCH_SERVER_KINDS as readonly string[]).includes(kind)))
        throw new Error(`--server takes ${BENCH_SERVER_KINDS.join(', ')}`);
      options.servers = kinds as BenchServerKind[];
      // Only the scale-out measurements, unless --only names sections too.
      if (!argv.some((other) => other.startsWith('--only'))) options.only = new Set();
    } else if (name === '--sizes') {
      options.sizes = value.split(',').map(Number);
      if (options.sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 18_000))
        throw new Error('--sizes takes integers between 1 and 18000 (the open-file limit)');
    } else if (name === '--help' || name === '-h') {
      process.stdout.write(
        'usage: npm run bench -- [--quick] [--only=baseline,batch,container,agent,dispatch,scale,latency,thermal] [--agents=10,100,1000] [--queues=sqlite,redis] [--owners=1,100] [--no-profile] [--server=prosody,ejabberd,ejabberd-cluster] [--sizes=1000,5000,10000]\n',
      );
      process.exit(0);
    } else if (arg !== '--') throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

interface Results {
  date: string;
  quick: boolean;
  host: {
    cpus: number;
    cpuModel: string;
    memoryMiB: number;
    kernel: string;
    node: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd?: number[];
  };
  baseline?: BaselineResult;
  batch?: BatchSubmitResult;
  thermal?: ThermalThrottleResult;
  container?: ContainerResult;
  agentFootprint?: AgentFootprintResult;
  throughput: ThroughputResult[];
  scale?: ScaleResult;
  latency?: LatencyResult;
  scaleOut?: ScaleOutResult[];
  /** Figures that could not be measured, with the reason. */
  missing: Array<{ figure: string; reason: string }>;
  durationSeconds?: number;
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function errorText(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
}

async function attempt<T>(
  results: Results,
  figure: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    log(`  !! ${figure} not measured: ${errorText(error)}`);
    results.missing.push({ figure, reason: errorText(error) });
    return undefined;
  }
}

function jobsFor(agents: number, quick: boolean): number {
  if (quick) return agents >= 1000 ? 1000 : agents >= 100 ? 600 : 300;
  return agents >= 1000 ? 4000 : agents >= 100 ? 3000 : 1500;
}

async function runDispatch(options: Options, results: Results): Promise<void> {
  const wantDispatch = options.only.has('dispatch');
  const wantScale = options.only.has('scale');
  const wantLatency = options.only.has('latency');
  const wantAgent = options.only.has('agent');
  if (!wantDispatch && !wantScale && !wantLatency && !wantAgent) return;
  const maxAgents = Math.max(
    wantDispatch ? Math.max(...options.agents) : 0,
    wantScale || wantLatency ? 1000 : 0,
    1,
  );
  const accounts = benchAccounts(maxAgents);
  const managerUser: XmppUser = { username: 'benchjm', password: 'bench-jm-password' };
  const footprintUser: XmppUser = { username: 'benchagent', password: 'bench-agent-password' };
  log(`\n[servers] Prosody with ${accounts.length} agent accounts (${maxAgents} agents)…`);
  let prosody: ProsodyServer | undefined;
  let redis: RedisServer | undefined;
  let pool: AgentPool | undefined;
  const profileDir = path.join(BENCH_TMP, 'profiles');
  try {
    const started = performance.now();
    prosody = await startProsody({
      users: [managerUser, footprintUser, ...accounts],
      // Login cost is not what is measured: few SCRAM rounds keep 1,000 logins quick.
      scramIterations: 64,
      logLevel: 'warn',
    });
    log(
      `  prosody pid ${prosody.process.pid} ready in ${round((performance.now() - started) / 1000)} s`,
    );
    pool = new AgentPool(prosody, accounts, prosody.jid(managerUser.username));
    const jobFile = writeJobFile(path.join(BENCH_TMP, 'jobs'));
    const queues = wantDispatch ? options.queues : (['sqlite'] as const);
    for (const queue of queues) {
      if (queue === 'redis') {
        const redisServer = await attempt(results, 'redis queue', () => startRedis());
        if (!redisServer) continue;
        redis = redisServer;
      }
      log(`\n[manager] ${queue} queue`);
      const manager = await startManagerProcess({
        prosody,
        username: managerUser.username,
        password: managerUser.password,
        redisUrl: queue === 'redis' ? redis?.url : undefined,
        profileDir,
      });
      try {
        const rssBefore = managerRss(manager);
        log(`  manager pid ${manager.process.pid}, RSS ${mib(rssBefore)} MiB before agents`);
        const context: DispatchContext = {
          pool,
          manager,
          prosodyPid: prosody.process.pid,
          redisPid: queue === 'redis' ? redis?.process.pid : undefined,
          jobFile,
          profileDir,
        };
        if (wantAgent && queue === queues[0]) {
          log('\n[agent] headless agent idle footprint');
          const server = prosody;
          results.agentFootprint = await attempt(results, 'agent footprint', () =>
            measureAgentFootprint({
              prosody: server,
              account: footprintUser,
              managerAddress: manager.jid,
              seconds: options.quick ? 15 : 60,
              log,
            }),
          );
        }
        if (queue === queues[0] && wantScale) {
          log('\n[scale] 1,000 connected agents, manager footprint');
          const scaleSeconds = options.quick ? 8 : 20;
          results.scale = await attempt(results, 'scale', async () => {
            const connectMs = await (pool as AgentPool).grow(1000);
            if (connectMs > 50) log(`  connected 1,000 agents in ${round(connectMs / 1000)} s`);
            return measureScale(context, {
              agents: 1000,
              seconds: scaleSeconds,
              idlePollMs: 5_000,
              managerRssBeforeAgents: rssBefore,
            });
          });
        }
        if (wantDispatch) {
          const largest = Math.max(...options.agents);
          for (const [agents, owners] of options.agents.flatMap((n) =>
            options.owners.map((o) => [n, o] as const),
          )) {
            const connectMs = await pool.grow(agents);
            if (connectMs > 50)
              log(`  connected agents up to ${agents} in ${round(connectMs / 1000)} s`);
            const jobs = jobsFor(agents, options.quick);
            log(`  throughput: ${agents} agents, ${jobs} jobs, ${owners} owner(s)…`);
            const result = await attempt(
              results,
              `throughput ${queue} N=${agents} owners=${owners}`,
              () =>
                measureThroughput(context, {
                  agents,
                  jobs,
                  owners,
                  timeLimitMs: options.quick ? 25_000 : 60_000,
                  profile: options.profile && agents === largest && owners === options.owners[0],
                }),
            );
            if (result) {
              results.throughput.push(result);
              log(
                `    ${round(result.jobsPerSecond)} jobs/s, ${Math.round(result.stanzasPerSecond)} stanzas/s, ` +
                  `${result.completed}/${jobs} done (${result.verifiedDone} in the store), busiest: ${result.saturated}`,
              );
            }
          }
        }
        if (queue === queues[0] && wantLatency) {
          log('\n[latency] 1,000 agents, steady submissions');
          results.latency = await attempt(results, 'latency', () =>
            measureLatency(context, {
              agents: 1000,
              ratePerSecond: 20,
              durationMs: options.quick ? 8_000 : 20_000,
              idlePollMs: 2_000,
            }),
          );
        }
      } finally {
        await manager.stop();
      }
    }
  } catch (error) {
    log(`  !! dispatch benchmarks stopped: ${errorText(error)}`);
    results.missing.push({ figure: 'dispatch/scale/latency', reason: errorText(error) });
  } finally {
    await pool?.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await prosody?.stop().catch(() => undefined);
  }
}

function printSummary(results: Results): void {
  const b = results.baseline;
  if (b) {
    log(
      formatTable(
        'Baseline (this process, same run)',
        ['figure', 'value'],
        [
          [`CPU loop (${b.cpuLoopIterations.toExponential(0)} xorshift steps), ms`, b.cpuLoopMs],
          ['codec round trips/s (runJob encode+parse+decode)', b.codecRoundTripsPerSecond],
          ['codec round trips/s (ack)', b.ackRoundTripsPerSecond],
        ],
      ),
    );
  }
  const batch = results.batch;
  if (batch) {
    log(
      formatTable(
        `Batch submission (SQLite, median of ${batch.runs})`,
        ['figure', 'ms'],
        [
          [`submitBatch --number ${batch.jobs} (inputs + queue)`, batch.submitMs],
          [`of which queueing (one transaction)`, batch.queueMs],
        ],
      ),
    );
  }
  const thermal = results.thermal;
  if (thermal) {
    log(
      formatTable(
        `Thermal throttle (limit ${thermal.limitC} °C, hysteresis ${thermal.hysteresisC} °C, ${thermal.hostCores} cores at 100 %, one slot)`,
        ['reading', '°C', 'factor', 'job CPU quota, cores'],
        thermal.steps.map((s) => [s.step, s.temperatureC, s.factor, s.cores]),
      ),
    );
  }
  if (results.throughput.length > 0) {
    log(
      formatTable(
        'Dispatch throughput (trivial jobs, submit → jobDone; one manager, one Prosody)',
        [
          'queue',
          'agents',
          'owners',
          'jobs',
          'jobs/s',
          'stanzas/s',
          'vs codec ‰',
          'getJob→runJob p50 ms',
          'p99 ms',
          'prosody %',
          'manager %',
          'agents %',
          'redis %',
          'manager CPU ms/job',
          'prosody CPU ms/job',
        ],
        results.throughput.map((t) => [
          t.queue,
          t.agents,
          t.owners ?? 1,
          `${t.completed}/${t.jobs}`,
          t.jobsPerSecond,
          t.stanzasPerSecond,
          b ? (1000 * t.jobsPerSecond) / b.codecRoundTripsPerSecond : undefined,
          t.getJobToRunJobMs.p50,
          t.getJobToRunJobMs.p99,
          t.cpu.prosody.cpuPercent,
          t.cpu.manager.cpuPercent,
          t.cpu.agents.cpuPercent,
          t.cpu.redis?.cpuPercent,
          t.completed > 0 ? (1000 * t.cpu.manager.cpuSeconds) / t.completed : undefined,
          t.completed > 0 ? (1000 * t.cpu.prosody.cpuSeconds) / t.completed : undefined,
        ]),
      ),
    );
    log(
      '  (CPU %: mean % of one core during the run; CPU ms/job: CPU time the process spent per finished job;\n' +
        '   "vs codec ‰": jobs/s per 1,000 codec round trips/s of the baseline)',
    );
  }
  const l = results.latency;
  if (l) {
    log(
      formatTable(
        `Latency with ${l.agents} agents (${l.submitRatePerSecond} jobs/s submitted, idle poll ${l.idlePollMs} ms ± 50 %, ${l.completed}/${l.submitted} done)`,
        ['interval', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [
          ['getJob → runJob', ...row(l.getJobToRunJobMs)],
          ['runJob → jobDone acked', ...row(l.runJobToJobDoneMs)],
          ['submit → jobDone acked', ...row(l.submitToJobDoneMs)],
        ],
      ),
    );
  }
  const s = results.scale;
  if (s) {
    log(
      formatTable(
        `Scale: ${s.agents} connected agents (manager RSS before agents: ${mib(s.managerRssBeforeAgentsBytes)} MiB)`,
        [
          'phase',
          'manager RSS MiB',
          'manager CPU %',
          'prosody RSS MiB',
          'prosody CPU %',
          'agents RSS MiB',
        ],
        [
          [
            'connected, silent',
            mib(s.silent.cpu.manager.rssMeanBytes),
            s.silent.cpu.manager.cpuPercent,
            mib(s.silent.cpu.prosody.rssMeanBytes),
            s.silent.cpu.prosody.cpuPercent,
            mib(s.silent.cpu.agents.rssMeanBytes),
          ],
          [
            `polling every ${s.polling.idlePollMs / 1000} s (${round(s.polling.wantGetJobPerSecond)} want_getJob/s)`,
            mib(s.polling.cpu.manager.rssMeanBytes),
            s.polling.cpu.manager.cpuPercent,
            mib(s.polling.cpu.prosody.rssMeanBytes),
            s.polling.cpu.prosody.cpuPercent,
            mib(s.polling.cpu.agents.rssMeanBytes),
          ],
        ],
      ),
    );
  }
  const a = results.agentFootprint;
  if (a) {
    log(
      formatTable(
        `Headless agent, idle, ${round(a.usage.wallSeconds)} s (${a.runtime})`,
        ['figure', 'value', 'goal'],
        [
          ['RSS mean, MiB', mib(a.usage.rssMeanBytes), '≤ 60'],
          ['RSS max, MiB', mib(a.usage.rssMaxBytes), ''],
          ['CPU, % of one core', round(a.usage.cpuPercent, 3), '< 0.1'],
          ['processes in its tree', a.processes, ''],
        ],
      ),
    );
  }
  const c = results.container;
  if (c) {
    log(
      formatTable(
        `Container overhead (bc scale=${c.bcScale}, hardened HostConfig, ${c.nanoCpus / 1e9} CPU)`,
        ['figure', 'value'],
        [
          ['bare runs, s', c.bareSeconds.map((v) => v.toFixed(2)).join(' / ')],
          [
            'container runs (create → removed), s',
            c.containerTotalSeconds.map((v) => v.toFixed(2)).join(' / '),
          ],
          [
            'job inside container (bash time), s',
            c.containerRunSeconds.map((v) => v.toFixed(2)).join(' / '),
          ],
          ['overhead, whole run, %', c.overheadPercent],
          ['overhead, job only, %  (goal ≤ 5)', c.computeOverheadPercent],
          [
            `container start → first output p50 / p95 ms (${c.start.runs} runs)`,
            `${Math.round(c.start.firstOutputMs.p50)} / ${Math.round(c.start.firstOutputMs.p95)}`,
          ],
          [
            'container create → removed p50 / p95 ms',
            `${Math.round(c.start.totalMs.p50)} / ${Math.round(c.start.totalMs.p95)}`,
          ],
        ],
      ),
    );
  }
  for (const t of results.throughput) {
    for (const [label, profile] of [
      ['manager', t.managerProfile],
      ['simulated agents', t.agentsProfile],
    ] as const) {
      if (!profile) continue;
      log(
        formatTable(
          `CPU profile of the ${label} process, ${t.queue} queue, ${t.agents} agents (${profile.durationMs} ms, idle ${profile.idlePercent} %, GC ${profile.gcPercent} %)`,
          ['function (self time)', 'location', '%'],
          profile.top.slice(0, 10).map((e) => [e.function, e.location, e.selfPercent]),
        ),
      );
      log(
        '  by area: ' +
          profile.byArea
            .slice(0, 8)
            .map((e) => `${e.function} ${e.selfPercent} %`)
            .join(', '),
      );
    }
  }
  if (results.scaleOut && results.scaleOut.length > 0) {
    for (const table of scaleOutTables(results.scaleOut, formatTable)) log(table);
  }
  if (results.missing.length > 0) {
    log('\nNot measured:');
    for (const m of results.missing) log(`  - ${m.figure}: ${m.reason}`);
  }
}

function row(summary: { p50: number; p95: number; p99: number; max: number }): number[] {
  return [summary.p50, summary.p95, summary.p99, summary.max];
}

async function main(): Promise<void> {
  const report = process.argv.find((arg) => arg.startsWith('--report='));
  if (report) {
    // Prints the tables of an earlier run again: --report=bench/results/<file>.json
    printSummary(JSON.parse(fs.readFileSync(report.slice('--report='.length), 'utf8')) as Results);
    return;
  }
  const options = parseArgs(process.argv.slice(2));
  const startedAt = performance.now();
  const cpus = os.cpus();
  const results: Results = {
    date: new Date().toISOString(),
    quick: options.quick,
    host: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryMiB: Math.round(os.totalmem() / 1024 / 1024),
      kernel: os.release(),
      node: process.version,
      loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
    },
    throughput: [],
    missing: [],
  };
  log(
    `Co-Pilot bench ${options.quick ? '(quick) ' : ''}on ${cpus.length} × ${results.host.cpuModel}, load average ${results.host.loadAverageAtStart.join(' ')}`,
  );
  if (options.only.has('baseline')) {
    log('\n[baseline] CPU loop and codec loop');
    results.baseline = runBaseline({ quick: options.quick });
  }
  if (options.only.has('batch')) {
    log('\n[batch] copilot-job-submit --number 1000 on SQLite');
    results.batch = await attempt(results, 'batch submission', () =>
      measureBatchSubmit({ quick: options.quick }),
    );
  }
  if (options.only.has('thermal')) {
    log('\n[thermal] the CPU quota over a synthetic temperature ramp');
    results.thermal = runThermalThrottle();
  }
  if (options.only.has('container')) {
    log('\n[container] start latency and CPU-bound overhead');
    results.container = await attempt(results, 'container overhead', () =>
      measureContainer({ quick: options.quick, log }),
    );
  }
  await runDispatch(options, results);
  for (const server of options.servers) {
    const quick = options.quick;
    const outcome = await attempt(results, `scale-out ${server}`, () =>
      runScaleOut(
        {
          server,
          sizes: options.sizes,
          dispatchAgents: 100,
          jobs: quick ? 600 : 2000,
          relaySeconds: quick ? 5 : 10,
          window: 200,
          pollIntervalMs: 30_000,
          sampleSeconds: quick ? 5 : 10,
          log,
        },
        writeJobFile(path.join(BENCH_TMP, 'jobs')),
        path.join(BENCH_TMP, 'profiles'),
      ),
    );
    if (outcome) (results.scaleOut ??= []).push(outcome);
  }
  results.host.loadAverageAtEnd = os.loadavg().map((v) => round(v, 2));
  results.durationSeconds = round((performance.now() - startedAt) / 1000);
  printSummary(results);
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${results.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  log(`\nWrote ${path.relative(REPO_ROOT, file)} (${results.durationSeconds} s)`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
