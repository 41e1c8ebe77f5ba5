import type { BatchProgress } from './batch-board';
import type { EventAggregator } from './event-aggregator';
import type { JobRates } from './job-rate-history';
import type { ConsoleSnapshot } from './monitor-console';
import type { DropCounts } from './report-rules';
import { isAgentComponent } from './sender-allow-list';

/** Load of one member of the Heartbeat room, from its last answer to getStatus systemLoad. */
export interface AgentLoad {
  nick: string;
  /** 1, 5 and 15 minute load averages; undefined until the member has answered once. */
  load?: [number, number, number];
  /** When the member last answered (ms since the epoch). */
  lastAnswerMs?: number;
  /** Whether it answered the latest poll. */
  answering: boolean;
  /** Recent 1-minute loads, oldest first. */
  history: number[];
}

export interface JobCounts {
  queued: number | null;
  running: number | null;
  succeeded: number;
  failed: number;
}

export interface JobHistoryPoint extends JobCounts {
  /** Sample time, ms since the epoch. */
  t: number;
  /** Jobs that succeeded / failed during this sample. */
  succeededInSample: number;
  failedInSample: number;
}

export interface DashboardSnapshot {
  generatedAt: string;
  sampleSeconds: number;
  jobs: JobCounts;
  history: JobHistoryPoint[];
  agents: AgentLoad[];
  room: string | null;
  carbon: { connected: boolean; bufferedLines: number; droppedLines: number; sentLines: number };
  updates: { lastSample: number; total: number };
  /** Reports dropped since the Monitor started, by reason. */
  dropped: DropCounts;
  /** Jobs per hour and the queue length per minute, for the longer plots. */
  rates: JobRates;
  /** Batch progress as the managers report it, most recently updated first. */
  batches: BatchProgress[];
  /** The live fleet console, when MON_CONSOLE_* configures one. */
  console: ConsoleSnapshot | null;
}

/** Event names the Job Manager reports its queue length and running jobs under. */
const QUEUED_EVENT = /^queued\.?jobs$/i;
const RUNNING_EVENT = /^running\.?jobs$/i;
const SUCCEEDED_EVENT = 'job.succeeded';
const FAILED_EVENT = 'job.failed';

const isManagerComponent = (component: string): boolean => !isAgentComponent(component);

export function jobCounts(aggregator: EventAggregator): JobCounts {
  return {
    // The managers' figures: an agent's component (agent.*: AgentMonitor reports the jobs it
    // ran, and MON_ALLOWED_SENDERS may admit any volunteer) never counts toward them.
    queued: aggregator.latestValueOf(QUEUED_EVENT, isManagerComponent) ?? null,
    running: aggregator.latestValueOf(RUNNING_EVENT, isManagerComponent) ?? null,
    succeeded: aggregator.totalOf(SUCCEEDED_EVENT, isManagerComponent),
    failed: aggregator.totalOf(FAILED_EVENT, isManagerComponent),
  };
}

/** Bounded history of job counts and agent loads behind the dashboard's plots. */
export class DashboardHistory {
  private readonly points: JobHistoryPoint[] = [];
  private readonly agents = new Map<string, AgentLoad>();

  constructor(private readonly limit = 180) {}

  addSample(counts: JobCounts, atMs: number): void {
    const previous = this.points.at(-1);
    this.points.push({
      ...counts,
      t: atMs,
      succeededInSample: counts.succeeded - (previous?.succeeded ?? 0),
      failedInSample: counts.failed - (previous?.failed ?? 0),
    });
    if (this.points.length > this.limit) this.points.splice(0, this.points.length - this.limit);
  }

  /** Records a poll: loads of those that answered; members no longer in the room are dropped. */
  recordPoll(
    members: readonly string[],
    answers: ReadonlyMap<string, [number, number, number]>,
    atMs: number,
  ): void {
    for (const nick of [...this.agents.keys()])
      if (!members.includes(nick)) this.agents.delete(nick);
    for (const nick of members) {
      const agent = this.agents.get(nick) ?? { nick, answering: false, history: [] };
      const load = answers.get(nick);
      agent.answering = load !== undefined;
      if (load) {
        agent.load = load;
        agent.lastAnswerMs = atMs;
        agent.history.push(load[0]);
        if (agent.history.length > this.limit)
          agent.history.splice(0, agent.history.length - this.limit);
      }
      this.agents.set(nick, agent);
    }
  }

  jobHistory(): JobHistoryPoint[] {
    return [...this.points];
  }

  agentLoads(): AgentLoad[] {
    return [...this.agents.values()].sort((a, b) => a.nick.localeCompare(b.nick));
  }
}
