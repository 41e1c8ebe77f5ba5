/**
 * The UI contract's commands (ui-contract.ts) over the agent's parts: status, jobs, the event
 * log, settings (applied live: limits, policy, reconnect when a connection field changed),
 * pause / resume / finish then pause, and per-job suspend, resume and abort.
 */
import { applySettingsPatch, CONNECTION_FIELDS, publicSettings } from '../contract/settings';
import type {
  AgentSettings,
  AgentStatus,
  JobsView,
  LogEntry,
  SetSettingsResult,
  UiCommandHandlers,
} from '../contract/ui-contract';
import type { Logger } from '../base/logger';
import type { JobHistory } from './job-history';
import type { JobSlots } from './job-slots';
import type { ResourcePolicy } from './resource-policy';
import type { ProjectCommandName } from './project-fields';

const MAX_PAUSE_MINUTES = 7 * 24 * 60;

export interface UiCommandsOptions {
  settings: { get(): AgentSettings; set(settings: AgentSettings): Promise<void> };
  policy: ResourcePolicy;
  slots: JobSlots;
  history: JobHistory;
  logger: Logger;
  hostCpuCount: number;
  status: () => AgentStatus;
  log: (limit: number) => LogEntry[];
  /** A connection field changed: reconnect (when the agent makes its own connection). */
  reconnect: () => Promise<void>;
  /** Emits the status; `force` even when nothing the UI shows changed. */
  update: (force?: boolean) => void;
  pump: () => void;
  /** Asks for the container engine now, and updates the status (checkContainerEngine). */
  checkEngine: () => Promise<void>;
}

type JobCommand = 'suspendJob' | 'resumeJob' | 'abortJob';

/** suspendJob, resumeJob and abortJob: one job in hand, by id. */
function jobCommands(options: UiCommandsOptions): Pick<UiCommandHandlers, JobCommand> {
  const { slots } = options;
  const act = (what: string, apply: (jobId: string) => boolean) => (jobId: string) => {
    if (typeof jobId !== 'string' || !slots.holds(jobId)) {
      return Promise.reject(new Error(`no job ${String(jobId)} in hand`));
    }
    if (!apply(jobId)) return Promise.reject(new Error(`job ${jobId} cannot be ${what} now`));
    options.update(true);
    return Promise.resolve(options.status());
  };
  return {
    suspendJob: act('suspended', (jobId) => slots.suspend(jobId)),
    resumeJob: act('resumed', (jobId) => slots.resumeJob(jobId)),
    abortJob: act('aborted (it is delivering its output)', (jobId) => slots.abortJob(jobId)),
  };
}

/**
 * The attach commands are src/core/attach-project.ts's (agent.ts adds them), the project
 * commands project-fields.ts's (one agent) or project-set.ts's (several projects).
 */
export type SettingsUiCommands = Omit<
  UiCommandHandlers,
  'previewAttachLink' | 'attachProject' | ProjectCommandName
>;

export function createUiCommands(options: UiCommandsOptions): SettingsUiCommands {
  const { policy, slots, logger, settings } = options;
  const limitsKey = (): string => JSON.stringify(policy.limits(options.hostCpuCount));

  async function setPaused(paused: boolean): Promise<void> {
    if (settings.get().paused === paused) return;
    await settings.set({ ...settings.get(), paused });
  }

  return {
    getStatus: () => Promise.resolve(options.status()),
    getJobs: (limit?: number): Promise<JobsView> =>
      Promise.resolve({
        running: slots.running(Date.now()),
        history: options.history.list(limit ?? 100),
        totals: options.history.totals(),
      }),
    getSettings: () => Promise.resolve(publicSettings(settings.get())),
    setSettings: async (patch): Promise<SetSettingsResult> => {
      const previous = settings.get();
      const applied = applySettingsPatch(previous, patch ?? {});
      if (applied.errors.length > 0) return { ok: false, errors: applied.errors };
      const previousLimits = limitsKey();
      await settings.set(applied.settings);
      logger.info('settings changed', { fields: Object.keys(patch ?? {}).join(',') });
      if (limitsKey() !== previousLimits) slots.applyLimits();
      slots.applyPolicy();
      if (CONNECTION_FIELDS.some((field) => previous[field] !== applied.settings[field])) {
        await options.reconnect();
      }
      options.update(true);
      options.pump();
      return { ok: true, settings: publicSettings(applied.settings) };
    },
    pause: async (minutes?: number): Promise<AgentStatus> => {
      policy.finishing = false;
      if (minutes !== undefined) {
        if (!Number.isFinite(minutes) || minutes <= 0 || minutes > MAX_PAUSE_MINUTES) {
          throw new Error('pause minutes must be between 0 and 10080');
        }
        policy.pauseFor(minutes, Date.now());
        logger.info('paused', { minutes });
      } else if (!settings.get().paused) {
        await setPaused(true);
        logger.info('paused');
      }
      slots.applyPolicy();
      options.update(true);
      return options.status();
    },
    resume: async (): Promise<AgentStatus> => {
      policy.finishing = false;
      policy.clearTimedPause();
      await setPaused(false);
      logger.info('resumed');
      slots.applyPolicy();
      options.update(true);
      options.pump();
      return options.status();
    },
    finishThenPause: async (): Promise<AgentStatus> => {
      if (slots.size === 0) {
        policy.finishing = false;
        await setPaused(true);
        logger.info('paused');
      } else {
        policy.finishing = true;
        logger.info('finishing the running jobs, then pausing', { jobs: slots.size });
      }
      options.update(true);
      return options.status();
    },
    ...jobCommands(options),
    getLog: (limit?: number) => Promise.resolve(options.log(limit ?? 200)),
    checkContainerEngine: async (): Promise<AgentStatus> => {
      await options.checkEngine();
      options.update(true);
      return options.status();
    },
  };
}
