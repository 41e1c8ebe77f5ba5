/**
 * Dispatch benchmarks against real Prosody + the real manager (child process) + the simulated
 * agents of this process: throughput for N agents, latency and manager footprint with 1,000.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobQueue } from '@manager/job-manager/job-queue';
import { submitJob } from '@manager/job-manager/job-submission';
import type { JobStorePaths } from '@manager/job-manager/job-store-paths';
import type { AgentPool } from './agent-pool';
import { summariseProfile, startSelfProfile, type ProfileSummary } from './lib/cpu-profile';
import { ProcSampler, readProc, type UsageSummary } from './lib/proc-stats';
import { sleep, summarise, type LatencySummary } from './lib/stats';
import type { ManagerProcess } from './manager-process';
import { nowMs, stanzaCount, type JobTiming, type SimCounters } from './sim-agent';

export interface ProcessUsage {
  prosody: UsageSummary;
  manager: UsageSummary;
  agents: UsageSummary;
  redis?: UsageSummary;
}

export interface ThroughputResult {
  queue: 'sqlite' | 'redis';
  agents: number;
  /** Owners the jobs were spread over, round robin (fair share ranks them on every request). */
  owners?: number;
  jobs: number;
  completed: number;
  /** Jobs the store shows as done afterwards. */
  verifiedDone: number;
  submitSeconds: number;
  submitPerSecond: number;
  seconds: number;
  jobsPerSecond: number;
  stanzasPerSecond: number;
  timedOut: boolean;
  getJobToRunJobMs: LatencySummary;
  counters: SimCounters;
  cpu: ProcessUsage;
  /** The process nearest to one full core. */
  saturated: string;
  managerProfile?: ProfileSummary;
  agentsProfile?: ProfileSummary;
}

export interface DispatchContext {
  pool: AgentPool;
  manager: ManagerProcess;
  prosodyPid: number;
  redisPid?: number;
  jobFile: string;
  profileDir: string;
}

/** A trivial job script the submitter copies into the job's input dir. */
export function writeJobFile(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'trivial.sh');
  fs.writeFileSync(file, '#!/bin/sh\necho done\n', { mode: 0o755 });
  return file;
}

async function submitMany(
  queue: JobQueue,
  paths: JobStorePaths,
  jobFile: string,
  count: number,
  submitted: Map<string, number>,
  owners = 1,
): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    const at = nowMs();
    // One owner: no owner at all, as before owners existed.
    const owner = owners > 1 ? { owner: `bench-owner-${index % owners}` } : {};
    const record = await submitJob(queue, paths, { commandFile: jobFile, ...owner });
    submitted.set(record.id, at);
  }
  return (performance.now() - started) / 1000;
}

async function countDone(queue: JobQueue, ids: Iterable<string>): Promise<number> {
  let done = 0;
  const all = [...ids];
  for (let offset = 0; offset < all.length; offset += 200) {
    const batch = await Promise.all(all.slice(offset, offset + 200).map((id) => queue.get(id)));
    done += batch.filter((job) => job?.state === 'done').length;
  }
  return done;
}

function samplers(context: DispatchContext): Record<string, ProcSampler> {
  const result: Record<string, ProcSampler> = {
    prosody: new ProcSampler(context.prosodyPid, 250).start(),
    manager: new ProcSampler(context.manager.process.pid, 250).start(),
    agents: new ProcSampler(process.pid, 250).start(),
  };
  if (context.redisPid !== undefined) result.redis = new ProcSampler(context.redisPid, 250).start();
  return result;
}

function stopSamplers(running: Record<string, ProcSampler>): ProcessUsage {
  const usage: Record<string, UsageSummary> = {};
  for (const [name, sampler] of Object.entries(running)) usage[name] = sampler.stop();
  return usage as unknown as ProcessUsage;
}

function busiest(cpu: ProcessUsage): string {
  const entries = Object.entries(cpu) as Array<[string, UsageSummary]>;
  entries.sort((a, b) => b[1].cpuPercent - a[1].cpuPercent);
  const [name, usage] = entries[0] ?? ['none', undefined];
  return `${name} (${Math.round(usage?.cpuPercent ?? 0)} % of a core)`;
}

export async function measureThroughput(
  context: DispatchContext,
  options: {
    agents: number;
    jobs: number;
    timeLimitMs: number;
    profile: boolean;
    owners?: number;
  },
): Promise<ThroughputResult> {
  const { pool, manager } = context;
  await pool.grow(options.agents);
  pool.resetCounters();
  const submitted = new Map<string, number>();
  const submitSeconds = await submitMany(
    manager.queue,
    manager.paths,
    context.jobFile,
    options.jobs,
    submitted,
    options.owners,
  );
  const timings: JobTiming[] = [];
  pool.onJobDone = (timing) => timings.push(timing);

  const running = samplers(context);
  const stopManagerProfile = options.profile ? manager.startProfile() : undefined;
  const selfProfile = options.profile ? await startSelfProfile() : undefined;
  const started = nowMs();
  const deadline = started + options.timeLimitMs;
  // The real agent's reply timeout (10 s) and first back-off after no offer (5 s ± 50 %).
  pool.startLoops(options.agents, { replyTimeoutMs: 10_000, idleRetryMs: 5_000 });
  while (pool.counters.jobsDone < options.jobs && nowMs() < deadline) await sleep(50);
  const ended = timings.length > 0 ? Math.max(...timings.map((t) => t.jobDoneAckedAt)) : nowMs();
  const cpu = stopSamplers(running);
  const counters = { ...pool.counters };
  const managerProfileFile = stopManagerProfile ? await stopManagerProfile() : undefined;
  const agentsProfileFile = selfProfile
    ? await selfProfile.stop(
        path.join(context.profileDir, `agents-${manager.queue.backend}-${Date.now()}.cpuprofile`),
      )
    : undefined;
  await pool.stopLoops();
  pool.onJobDone = undefined;
  const verifiedDone = await countDone(manager.queue, submitted.keys());
  const seconds = (ended - started) / 1000;
  const result: ThroughputResult = {
    queue: manager.queue.backend,
    agents: options.agents,
    owners: options.owners ?? 1,
    jobs: options.jobs,
    completed: counters.jobsDone,
    verifiedDone,
    submitSeconds,
    submitPerSecond: options.jobs / submitSeconds,
    seconds,
    jobsPerSecond: counters.jobsDone / seconds,
    stanzasPerSecond: stanzaCount(counters) / seconds,
    timedOut: counters.jobsDone < options.jobs,
    getJobToRunJobMs: summarise(timings.map((t) => t.runJobAt - t.getJobSentAt)),
    counters,
    cpu,
    saturated: busiest(cpu),
  };
  if (managerProfileFile) result.managerProfile = summariseProfile(managerProfileFile);
  if (agentsProfileFile) result.agentsProfile = summariseProfile(agentsProfileFile);
  return result;
}

export interface LatencyResult {
  agents: number;
  submitRatePerSecond: number;
  idlePollMs: number;
  submitted: number;
  completed: number;
  submitToJobDoneMs: LatencySummary;
  getJobToRunJobMs: LatencySummary;
  runJobToJobDoneMs: LatencySummary;
  cpu: ProcessUsage;
}

/** Jobs submitted at a steady rate to N idle-polling agents; per-job latencies. */
export async function measureLatency(
  context: DispatchContext,
  options: { agents: number; ratePerSecond: number; durationMs: number; idlePollMs: number },
): Promise<LatencyResult> {
  const { pool, manager } = context;
  await pool.grow(options.agents);
  pool.resetCounters();
  const submitted = new Map<string, number>();
  const timings = new Map<string, JobTiming>();
  pool.onJobDone = (timing) => timings.set(timing.jobId, timing);
  pool.startLoops(options.agents, { replyTimeoutMs: 3_000, idleRetryMs: options.idlePollMs });
  await sleep(options.idlePollMs * 1.5); // let the polls spread out
  const running = samplers(context);
  const intervalMs = 1000 / options.ratePerSecond;
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < options.durationMs) {
    const due = started + count * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const at = nowMs();
    const record = await submitJob(manager.queue, manager.paths, { commandFile: context.jobFile });
    submitted.set(record.id, at);
    count += 1;
  }
  const deadline = performance.now() + 20_000;
  while (timings.size < submitted.size && performance.now() < deadline) await sleep(100);
  const cpu = stopSamplers(running);
  await pool.stopLoops();
  pool.onJobDone = undefined;
  const done = [...timings.values()].filter((timing) => submitted.has(timing.jobId));
  return {
    agents: options.agents,
    submitRatePerSecond: options.ratePerSecond,
    idlePollMs: options.idlePollMs,
    submitted: submitted.size,
    completed: done.length,
    submitToJobDoneMs: summarise(
      done.map((timing) => timing.jobDoneAckedAt - (submitted.get(timing.jobId) as number)),
    ),
    getJobToRunJobMs: summarise(done.map((timing) => timing.runJobAt - timing.getJobSentAt)),
    runJobToJobDoneMs: summarise(done.map((timing) => timing.jobDoneAckedAt - timing.runJobAt)),
    cpu,
  };
}

export interface ScaleResult {
  agents: number;
  managerRssBeforeAgentsBytes: number;
  /** Agents connected, no job requests. */
  silent: { seconds: number; cpu: ProcessUsage };
  /** Agents polling want_getJob every idlePollMs (± 50 %) at an empty queue. */
  polling: { seconds: number; idlePollMs: number; wantGetJobPerSecond: number; cpu: ProcessUsage };
}

export async function measureScale(
  context: DispatchContext,
  options: { agents: number; seconds: number; idlePollMs: number; managerRssBeforeAgents: number },
): Promise<ScaleResult> {
  const { pool } = context;
  await pool.grow(options.agents);
  await sleep(2_000);
  let running = samplers(context);
  await sleep(options.seconds * 1000);
  const silent = stopSamplers(running);
  pool.resetCounters();
  pool.startLoops(options.agents, { replyTimeoutMs: 1_000, idleRetryMs: options.idlePollMs });
  await sleep(options.idlePollMs);
  const sentBefore = pool.counters.commandsSent;
  running = samplers(context);
  await sleep(options.seconds * 1000);
  const polling = stopSamplers(running);
  const wants = pool.counters.commandsSent - sentBefore;
  await pool.stopLoops();
  return {
    agents: options.agents,
    managerRssBeforeAgentsBytes: options.managerRssBeforeAgents,
    silent: { seconds: options.seconds, cpu: silent },
    polling: {
      seconds: options.seconds,
      idlePollMs: options.idlePollMs,
      wantGetJobPerSecond: wants / options.seconds,
      cpu: polling,
    },
  };
}

export function managerRss(manager: ManagerProcess): number {
  return readProc(manager.process.pid)?.rssBytes ?? 0;
}
