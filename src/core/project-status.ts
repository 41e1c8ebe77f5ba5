/**
 * The project set's status and job lists (project-set.ts): one AgentStatus and one JobsView over
 * every attached project's, the way the UI saw one agent's, plus the list of projects.
 */
import type {
  AgentStatus,
  JobHistoryRecord,
  JobsView,
  JobTotals,
  ProjectInfo,
  RunningJob,
} from '../contract/ui-contract';

type Label = <T extends { project?: string }>(job: T) => T;

export interface StatusPart {
  status: AgentStatus;
  /** Labels a job with its project's name (while several are attached). */
  label: Label;
}

/**
 * The lead project's status (connection, Docker, pause, idle: the computer's state) with every
 * project's running jobs and slots; the activity and line are a running project's while any runs.
 */
export function mergeStatus(
  lead: AgentStatus,
  parts: readonly StatusPart[],
  projects: ProjectInfo[],
): AgentStatus {
  const running: RunningJob[] = parts.flatMap((part) => part.status.running.map(part.label));
  const shown =
    lead.activity === 'running' || running.length === 0
      ? lead
      : (parts.find((part) => part.status.activity === 'running')?.status ?? lead);
  const total = parts.reduce((sum, part) => sum + part.status.slots.total, 0);
  return {
    ...lead,
    activity: shown.activity,
    statusLine:
      projects.length > 1 && running.length > 0
        ? `${shown.statusLine} (${projects.length} projects)`
        : shown.statusLine,
    running,
    slots: { total: total || lead.slots.total, busy: running.length },
    suspendedJobs: parts.flatMap((part) => part.status.suspendedJobs ?? []),
    projects,
  };
}

function byDay(totals: readonly JobTotals[]): JobTotals['perDay'] {
  const days = new Map<string, number>();
  for (const total of totals) {
    for (const { day, jobs } of total.perDay) days.set(day, (days.get(day) ?? 0) + jobs);
  }
  return [...days.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([day, jobs]) => ({ day, jobs }));
}

function finishedAt(record: JobHistoryRecord): string {
  return record.finishedAt ?? record.startedAt ?? record.receivedAt;
}

/** Every project's running jobs, their history newest first (at most `limit`), totals summed. */
export function mergeJobs(
  views: ReadonlyArray<{ view: JobsView; label: Label }>,
  limit: number,
): JobsView {
  const history = views
    .flatMap(({ view, label }) => view.history.map(label))
    .sort((a, b) => finishedAt(b).localeCompare(finishedAt(a)))
    .slice(0, Math.max(0, limit));
  const totals = views.map(({ view }) => view.totals);
  return {
    running: views.flatMap(({ view, label }) => view.running.map(label)),
    history,
    totals: {
      jobs: totals.reduce((sum, t) => sum + t.jobs, 0),
      succeeded: totals.reduce((sum, t) => sum + t.succeeded, 0),
      failed: totals.reduce((sum, t) => sum + t.failed, 0),
      cpuHours: totals.reduce((sum, t) => sum + t.cpuHours, 0),
      perDay: byDay(totals),
    },
  };
}
