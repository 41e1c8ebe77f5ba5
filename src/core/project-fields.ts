/**
 * Which settings belong to a project and which to the computer, when several projects are
 * attached (project-set.ts). A project's are its account, manager, Heartbeat, monitor and
 * security settings (the form's groups 'project', 'heartbeat' and 'security'); the rest are the
 * volunteer's computing preferences (CPU limit, memory, disk, slots, network, schedule, idle,
 * battery, start at login, pause), which hold for every project alike.
 */
import { keysWhere } from '../contract/settings-derive';
import { SETTINGS_SPEC, type SettingsGroupId } from '../contract/settings-spec';
import type { AgentSettings, UiCommandHandlers } from '../contract/ui-contract';

const PROJECT_GROUPS: ReadonlySet<SettingsGroupId> = new Set(['project', 'heartbeat', 'security']);

/** The settings each project has its own of. */
export const PROJECT_FIELDS = keysWhere(SETTINGS_SPEC, (entry) => {
  const group = entry.form?.group;
  return group !== undefined && PROJECT_GROUPS.has(group);
}) as ReadonlyArray<keyof AgentSettings>;

const PROJECT_FIELD_SET: ReadonlySet<string> = new Set(PROJECT_FIELDS);

export function isProjectField(name: string): boolean {
  return PROJECT_FIELD_SET.has(name);
}

/** The fields of `settings` (or a patch) that belong to a project. */
export function projectPart(settings: Partial<AgentSettings>): Partial<AgentSettings> {
  return Object.fromEntries(
    Object.entries(settings).filter(([name]) => isProjectField(name)),
  ) as Partial<AgentSettings>;
}

/** The settings of `settings` (or a patch) that are the volunteer's, for every project. */
export function hostPart(settings: Partial<AgentSettings>): Partial<AgentSettings> {
  return Object.fromEntries(
    Object.entries(settings).filter(([name]) => name in SETTINGS_SPEC && !isProjectField(name)),
  ) as Partial<AgentSettings>;
}

/** A project is attached when it has a job manager to ask. */
export function isAttached(settings: Pick<AgentSettings, 'jobManagerAddress'>): boolean {
  return settings.jobManagerAddress.trim() !== '';
}

export type ProjectCommandName = 'detachProject' | 'setProjectPaused' | 'setProjectShare';

/**
 * The project commands of one agent on its own (createAgent without a project set): there is
 * nothing to detach or share; the hosts run a project set (project-set.ts) for that.
 */
export function loneAgentProjectCommands(): Pick<UiCommandHandlers, ProjectCommandName> {
  const refuse = (): Promise<never> =>
    Promise.reject(new Error('this agent runs one project; several need a project set'));
  return { detachProject: refuse, setProjectPaused: refuse, setProjectShare: refuse };
}
