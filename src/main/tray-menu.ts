import type { MenuItemConstructorOptions } from 'electron';
import type { AgentStatus, RunningJob } from '../contract/ui-contract';

export interface TrayActions {
  pause(minutes?: number): void;
  resume(): void;
  /** Take no new work, let the running jobs end, then pause. */
  finishThenPause(): void;
  suspendJob(jobId: string): void;
  resumeJob(jobId: string): void;
  abortJob(jobId: string): void;
  openWindow(): void;
  quit(): void;
}

export const PAUSE_FOR_HOUR_MINUTES = 60;
/** Jobs listed in the tray menu; more are in the window. */
const MAX_MENU_JOBS = 8;

/** One running job's submenu: suspend or resume it, or abort it. */
function jobItem(
  job: RunningJob,
  suspended: boolean,
  actions: TrayActions,
): MenuItemConstructorOptions {
  return {
    id: `job:${job.jobId}`,
    label: `Job ${job.jobId}${suspended ? ' (suspended)' : ''}`,
    submenu: [
      suspended
        ? {
            id: `job-resume:${job.jobId}`,
            label: 'Resume this job',
            click: () => actions.resumeJob(job.jobId),
          }
        : {
            id: `job-suspend:${job.jobId}`,
            label: 'Suspend this job',
            click: () => actions.suspendJob(job.jobId),
          },
      {
        id: `job-abort:${job.jobId}`,
        label: 'Abort this job',
        click: () => actions.abortJob(job.jobId),
      },
    ],
  };
}

/** The tray menu for a status: a disabled status line, then the actions. Pure, so it is tested. */
export function trayMenuTemplate(
  status: AgentStatus | null,
  actions: TrayActions,
): MenuItemConstructorOptions[] {
  const paused = status?.paused ?? false;
  const running = status?.running ?? [];
  const suspended = new Set(status?.suspendedJobs ?? []);
  const jobs = running
    .slice(0, MAX_MENU_JOBS)
    .map((job) => jobItem(job, suspended.has(job.jobId), actions));
  const finish: MenuItemConstructorOptions[] =
    !paused && running.length > 0 && status?.finishing !== true
      ? [
          {
            id: 'finish-then-pause',
            label: 'Finish current jobs, then pause',
            click: () => actions.finishThenPause(),
          },
        ]
      : [];
  return [
    { id: 'status', label: status?.statusLine ?? 'Starting…', enabled: false },
    ...(jobs.length > 0 ? [{ type: 'separator' as const }, ...jobs] : []),
    { type: 'separator' },
    paused
      ? { id: 'resume', label: 'Resume', click: () => actions.resume() }
      : { id: 'pause', label: 'Pause', click: () => actions.pause() },
    {
      id: 'pause-hour',
      label: 'Pause for 1 hour',
      click: () => actions.pause(PAUSE_FOR_HOUR_MINUTES),
    },
    ...finish,
    { type: 'separator' },
    { id: 'open', label: 'Open Co-Pilot Desktop', click: () => actions.openWindow() },
    { id: 'quit', label: 'Quit', click: () => actions.quit() },
  ];
}

/** Tooltip: the product name and the status line (tooltips are short on every desktop). */
export function trayTooltip(status: AgentStatus | null): string {
  return status ? `Co-Pilot Desktop: ${status.statusLine}` : 'Co-Pilot Desktop';
}
