/**
 * Several projects at once, BOINC style: one agent (createAgent) per attached project, each with
 * its own data dir (`<dataDir>/projects/<id>/`; the first project keeps the data dir itself), its
 * own account and project settings (project-fields.ts), its own XMPP resource and container label
 * (both derive from the data dir). What is the computer's is shared: the volunteer's computing
 * preferences go to every project's agent alike, the host's idle readings too, and the container
 * engine is the same one each agent finds.
 *
 * The CPU limit is split by resource share among the projects that have work running: a project's
 * jobs get share / (its share + the shares of the other projects running jobs) of the CPU the
 * volunteer allows; a project alone with work gets all of it. Each project may be paused (its jobs
 * frozen, no new work: a hold on its policy) and detached (no new work, its jobs finished or
 * aborted, then its settings and password forgotten: for the first project, through the host;
 * for another, with its directory, history included).
 *
 * The set is an AgentHost: the hosts (desktop-app.ts, copilot-agent.ts) serve it as they served
 * one agent. getSettings and setSettings are the first attached project's (the settings form), with
 * the computing preferences applied to all.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { applySettingsPatch, DEFAULT_SETTINGS, publicSettings } from '../contract/settings';
import type {
  AgentSettings,
  AgentStatus,
  AttachResult,
  DetachMode,
  JobHistoryRecord,
  JobsView,
  ProjectInfo,
  PublicSettings,
  SetSettingsResult,
  UiCommandHandlers,
} from '../contract/ui-contract';
import { TypedEmitter } from '../base/typed-emitter';
import type { Logger } from '../base/logger';
import type { AgentHost, AgentHostEvents } from './agent-host';
import type { Agent, AgentOptions } from './agent-options';
import { attachProject, previewOf, readAttachText, type AttachDeps } from './attach-project';
import { hostPart, isAttached, PROJECT_FIELDS, projectPart } from './project-fields';
import {
  DEFAULT_SHARE,
  FIRST_PROJECT_ID,
  fileProjectStore,
  projectDataDir,
  validShare,
  type ProjectRecord,
  type ProjectStore,
} from './project-store';
import { mergeJobs, mergeStatus, type StatusPart } from './project-status';

export interface ProjectSetOptions {
  /** The first project's agent as a lone agent is made: its settings are the stored ones. */
  base: AgentOptions;
  /** createAgent (agent.ts); a parameter so that project-set.ts does not build the agent itself. */
  createAgent: (options: AgentOptions) => Agent;
  /** Default: projects.json in the data dir (project-store.ts). */
  store?: ProjectStore;
  /** More options for one project's agent (a test's channel, runner). */
  projectOptions?: (id: string) => Partial<AgentOptions>;
  /**
   * Where the host keeps the first project (the desktop's sealed password, the headless agent's
   * project.conf): `refusal` says why it cannot be detached here (a config file sets it), or
   * null; `forget` removes it once its jobs are done.
   */
  firstProject?: { refusal?: () => string | null; forget?: () => void | Promise<void> };
  /** Registration with the invite (tests); default xmpp-register.ts. */
  register?: AttachDeps['register'];
}

interface Member {
  record: ProjectRecord;
  agent: Agent;
  status: AgentStatus | null;
  /** This project's part of the allowed CPU now, 0..1. */
  fraction: number;
  detaching: DetachMode | null;
  /** Its jobs are done: its agent is being stopped and removed. */
  removing: boolean;
  /** Jobs in its history. */
  done: number;
  unsubscribe: () => void;
}

const PROJECT_PAUSED = { run: false, reason: 'paused', detail: 'project paused' } as const;

export class ProjectSet implements AgentHost {
  readonly events = new TypedEmitter<AgentHostEvents>();
  readonly commands: UiCommandHandlers;
  private readonly members: Member[] = [];
  private readonly store: ProjectStore;
  private readonly log: Logger;
  private started = false;
  /** The first project's settings as the UI sees them (name, manager), kept after each change. */
  private first: PublicSettings;

  constructor(private readonly options: ProjectSetOptions) {
    this.store = options.store ?? fileProjectStore(options.base.dataDir);
    this.first = publicSettings(options.base.settings);
    const records = this.store.load();
    for (const record of records) this.members.push(this.makeMember(record));
    this.log = this.primary.agent.logger.child('projects');
    this.commands = this.makeCommands();
  }

  /** The first project's agent's logger (its event log is the data dir's). */
  get logger(): Logger {
    return this.primary.agent.logger;
  }

  /** The first project's agent: the host's settings and data dir, attached or not. */
  private get primary(): Member {
    const member = this.members.find((m) => m.record.id === FIRST_PROJECT_ID);
    if (!member) throw new Error('the first project is missing');
    return member;
  }

  private projectSettings(member: Member): Partial<AgentSettings> {
    return member.record.settings ?? this.first;
  }

  private attached(): Member[] {
    return this.members.filter((member) =>
      isAttached({ jobManagerAddress: this.projectSettings(member).jobManagerAddress ?? '' }),
    );
  }

  /** The project the settings form shows: the first attached one (the first project if none). */
  private lead(): Member {
    return this.attached()[0] ?? this.primary;
  }

  private nameOf(member: Member): string {
    const settings = this.projectSettings(member);
    return settings.projectName || settings.jobManagerAddress || member.record.id;
  }

  private agentOptions(record: ProjectRecord, member: () => Member | undefined): AgentOptions {
    const { base } = this.options;
    const shared: AgentOptions =
      record.id === FIRST_PROJECT_ID
        ? base
        : {
            ...base,
            settings: { ...base.settings, ...this.hostSettings(), ...record.settings },
            dataDir: projectDataDir(base.dataDir, record.id),
            persistSettings: (next) => this.persistProject(record, next),
            resource: undefined,
            monitorAddress: undefined,
          };
    return {
      ...shared,
      ...this.options.projectOptions?.(record.id),
      hold: () => (record.paused ? PROJECT_PAUSED : null),
      cpuFactor: () => member()?.fraction ?? 1,
      allowsNewWork: () => (member()?.detaching ?? null) === null,
      otherJobsCpuSeconds: () => this.otherJobsCpuSeconds(member()),
    };
  }

  /** The volunteer's computing preferences now, with the first project's defaults for the rest. */
  private hostSettings(): Partial<AgentSettings> {
    const projectDefaults = Object.fromEntries(
      PROJECT_FIELDS.map((field) => [field, DEFAULT_SETTINGS[field]]),
    );
    return { ...projectDefaults, ...hostPart(this.first) };
  }

  private makeMember(record: ProjectRecord): Member {
    // The agent's hooks read the member, which holds the agent: made once both exist.
    const ref: { member?: Member } = {};
    const agent = this.options.createAgent(this.agentOptions(record, () => ref.member));
    const member: Member = {
      record,
      agent,
      status: null,
      fraction: 1,
      detaching: null,
      removing: false,
      done: 0,
      unsubscribe: () => undefined,
    };
    ref.member = member;
    member.unsubscribe = this.forwardEvents(member);
    return member;
  }

  private forwardEvents(member: Member): () => void {
    const { events } = member.agent;
    const onStatus = (status: AgentStatus): void => {
      member.status = status;
      this.rebalance();
      this.checkDetach(member);
      this.emitStatus();
    };
    const onJob = (record: JobHistoryRecord): void => {
      member.done += 1;
      this.events.emit('job', this.labelled(member, record));
    };
    const onLog = (entry: AgentHostEvents['log'][0]): void => {
      this.events.emit('log', entry);
    };
    const onNotification = (note: AgentHostEvents['notification'][0]): void => {
      this.events.emit('notification', note);
    };
    events.on('status', onStatus);
    events.on('job', onJob);
    events.on('log', onLog);
    events.on('notification', onNotification);
    return () => {
      events.off('status', onStatus);
      events.off('job', onJob);
      events.off('log', onLog);
      events.off('notification', onNotification);
    };
  }

  /** A job labelled with its project's name while more than one project is attached. */
  private labelled<T extends { project?: string }>(member: Member, job: T): T {
    return this.attached().length > 1 ? { ...job, project: this.nameOf(member) } : job;
  }

  private labeller(member: Member): StatusPart['label'] {
    return (job) => this.labelled(member, job);
  }

  private persistProject(record: ProjectRecord, next: AgentSettings): void {
    const settings = projectPart(next);
    if (JSON.stringify(settings) === JSON.stringify(record.settings)) return;
    record.settings = settings;
    this.save();
  }

  private save(): void {
    this.store.save(this.members.map((member) => member.record));
  }

  private otherJobsCpuSeconds(self: Member | undefined): number {
    let sum = 0;
    for (const member of this.members) {
      if (member === self) continue;
      for (const job of member.status?.running ?? [])
        sum += member.agent.runner.cpuSeconds(job.jobId);
    }
    return sum;
  }

  /**
   * The CPU split: among the projects with jobs running (not paused), each gets its share of the
   * total; a project without jobs is given what it would get once its first one starts.
   */
  private rebalance(): void {
    const busy = this.members.filter(
      (member) => !member.record.paused && (member.status?.running.length ?? 0) > 0,
    );
    for (const member of this.members) {
      const others = busy
        .filter((other) => other !== member)
        .reduce((sum, other) => sum + other.record.share, 0);
      const fraction = member.record.share / (member.record.share + others);
      if (Math.abs(fraction - member.fraction) < 1e-9) continue;
      member.fraction = fraction;
      member.agent.refreshPolicy();
    }
  }

  private projectInfo(member: Member): ProjectInfo {
    const settings = this.projectSettings(member);
    const status = member.status;
    return {
      id: member.record.id,
      name: this.nameOf(member),
      manager: settings.jobManagerAddress ?? '',
      jid: status?.jid ?? null,
      activity: status?.activity ?? 'stopped',
      statusLine: status?.statusLine ?? 'Starting',
      paused: member.record.paused,
      share: member.record.share,
      cpuShare: (status?.cpuShare ?? 0) * member.fraction,
      jobs: { running: status?.running.length ?? 0, done: member.done },
      detaching: member.detaching !== null,
    };
  }

  private combined(): AgentStatus {
    const attached = this.attached();
    const lead = this.lead();
    if (!lead.status) throw new Error('the projects have not said their status yet');
    const parts: StatusPart[] = (attached.length > 0 ? attached : [lead]).flatMap((member) =>
      member.status ? [{ status: member.status, label: this.labeller(member) }] : [],
    );
    return mergeStatus(
      lead.status,
      parts,
      attached.map((member) => this.projectInfo(member)),
    );
  }

  private emitStatus(): void {
    if (this.lead().status) this.events.emit('status', this.combined());
  }

  private async refreshStatuses(): Promise<AgentStatus> {
    const read = (members: Member[]): Promise<unknown> =>
      Promise.all(
        members.map(async (member) => {
          member.status = await member.agent.commands.getStatus();
        }),
      );
    await read(this.members);
    // A project added (or the first one replaced) meanwhile has not said its status yet.
    await read(this.members.filter((member) => member.status === null));
    return this.combined();
  }

  private async syncFirst(): Promise<void> {
    this.first = await this.primary.agent.commands.getSettings();
  }

  private find(projectId: unknown): Member {
    const member = this.attached().find((m) => m.record.id === projectId);
    if (!member) throw new Error(`no project ${String(projectId)} attached`);
    return member;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const member of this.members) await this.startMember(member);
    this.emitStatus();
  }

  private async startMember(member: Member): Promise<void> {
    await member.agent.start();
    member.done = (await member.agent.commands.getJobs(0)).totals.jobs;
    member.status = await member.agent.commands.getStatus();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await Promise.all(this.members.map((member) => member.agent.stop()));
  }

  reportIdleSeconds(seconds: number): void {
    for (const member of this.members) member.agent.reportIdleSeconds(seconds);
  }

  /** Every member at once; the set's status after. */
  private async all(act: (commands: UiCommandHandlers) => Promise<unknown>): Promise<AgentStatus> {
    for (const member of this.members) await act(member.agent.commands);
    await this.syncFirst();
    return this.refreshStatuses();
  }

  /** The member holding a job (by its running jobs), for the per-job commands. */
  private async holder(jobId: string): Promise<Member> {
    await this.refreshStatuses();
    const member = this.members.find((m) => m.status?.running.some((job) => job.jobId === jobId));
    if (!member) throw new Error(`no job ${String(jobId)} in hand`);
    return member;
  }

  private async setSettings(patch: Partial<AgentSettings>): Promise<SetSettingsResult> {
    const lead = this.lead();
    const result = await lead.agent.commands.setSettings(patch);
    if (!result.ok) return result;
    const host = hostPart(patch ?? {});
    if (Object.keys(host).length > 0) {
      for (const member of this.members) {
        if (member !== lead) await member.agent.commands.setSettings(host);
      }
    }
    await this.syncFirst();
    return result;
  }

  private makeCommands(): UiCommandHandlers {
    const perJob =
      (name: 'suspendJob' | 'resumeJob' | 'abortJob') =>
      async (jobId: string): Promise<AgentStatus> => {
        await (await this.holder(jobId)).agent.commands[name](jobId);
        return this.refreshStatuses();
      };
    return {
      getStatus: () => this.refreshStatuses(),
      getJobs: async (limit?: number): Promise<JobsView> => {
        const views = await Promise.all(
          this.members.map(async (member) => ({
            view: await member.agent.commands.getJobs(limit),
            label: this.labeller(member),
          })),
        );
        return mergeJobs(views, limit ?? 100);
      },
      getSettings: () => this.lead().agent.commands.getSettings(),
      setSettings: (patch) => this.setSettings(patch),
      pause: (minutes?: number) => this.all((commands) => commands.pause(minutes)),
      resume: () => this.all((commands) => commands.resume()),
      finishThenPause: () => this.all((commands) => commands.finishThenPause()),
      suspendJob: perJob('suspendJob'),
      resumeJob: perJob('resumeJob'),
      abortJob: perJob('abortJob'),
      getLog: async (limit?: number) => {
        const logs = await Promise.all(this.members.map((m) => m.agent.commands.getLog(limit)));
        const merged = logs.flat().sort((a, b) => a.time.localeCompare(b.time));
        return merged.slice(-Math.max(0, limit ?? 200));
      },
      previewAttachLink: (text) => this.preview(text),
      attachProject: (text) => this.attach(String(text)),
      checkContainerEngine: () => this.all((commands) => commands.checkContainerEngine()),
      detachProject: (projectId, mode) => this.detach(projectId, mode ?? 'finish'),
      setProjectPaused: (projectId, paused) => this.setPaused(projectId, paused),
      setProjectShare: (projectId, share) => this.setShare(projectId, share),
    };
  }

  /** The project a link is for, if it is attached already (same XMPP domain and managers). */
  private attachedAs(text: string): Member | undefined {
    const link = readAttachText(text);
    const managers = link.managerJids.join(' ');
    return this.attached().find((member) => {
      const settings = this.projectSettings(member);
      return settings.xmppDomain === link.xmppDomain && settings.jobManagerAddress === managers;
    });
  }

  private async preview(text: string): ReturnType<UiCommandHandlers['previewAttachLink']> {
    const link = readAttachText(String(text));
    const already = this.attachedAs(String(text));
    if (already) throw new Error(`${this.nameOf(already)} is attached already`);
    // Another project is added beside those attached: nothing is replaced.
    return Promise.resolve({ ...previewOf(link, undefined), replacesProject: null });
  }

  private async attach(text: string): Promise<AttachResult> {
    if (this.attached().length === 0) {
      const result = await this.primary.agent.commands.attachProject(text);
      await this.syncFirst();
      this.emitStatus();
      return result;
    }
    try {
      const already = this.attachedAs(text);
      if (already) return { ok: false, error: `${this.nameOf(already)} is attached already` };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    return attachProject(text, {
      logger: this.log,
      ...(this.options.register ? { register: this.options.register } : {}),
      apply: (patch) => this.addProject(patch),
    });
  }

  /** Adds a project with these settings (an attach's), starts its agent if the set runs. */
  async addProject(patch: Partial<AgentSettings>): Promise<SetSettingsResult> {
    const settings = projectPart(patch);
    const checked = applySettingsPatch(DEFAULT_SETTINGS, settings);
    if (checked.errors.length > 0) return { ok: false, errors: checked.errors };
    const record: ProjectRecord = {
      id: crypto.randomBytes(4).toString('hex'),
      share: DEFAULT_SHARE,
      paused: false,
      settings,
    };
    const member = this.makeMember(record);
    this.members.push(member);
    this.save();
    this.log.info('project attached', { project: this.nameOf(member), id: record.id });
    if (this.started) await this.startMember(member);
    this.rebalance();
    this.emitStatus();
    return { ok: true, settings: publicSettings({ ...DEFAULT_SETTINGS, ...settings }) };
  }

  private async setPaused(projectId: string, paused: boolean): Promise<AgentStatus> {
    const member = this.find(projectId);
    if (typeof paused !== 'boolean') throw new Error('paused must be true or false');
    if (member.record.paused !== paused) {
      member.record.paused = paused;
      this.save();
      this.log.info(paused ? 'project paused' : 'project resumed', { id: member.record.id });
      this.rebalance();
      member.agent.refreshPolicy();
    }
    return this.refreshStatuses();
  }

  private async setShare(projectId: string, share: number): Promise<AgentStatus> {
    const member = this.find(projectId);
    if (!validShare(share)) throw new Error('a share is a whole number from 1 to 1000');
    member.record.share = share;
    this.save();
    this.rebalance();
    return this.refreshStatuses();
  }

  private async detach(projectId: string, mode: DetachMode): Promise<AgentStatus> {
    const member = this.find(projectId);
    if (mode !== 'finish' && mode !== 'abort') throw new Error('detach mode is finish or abort');
    if (member.record.id === FIRST_PROJECT_ID) {
      const refusal = this.options.firstProject?.refusal?.() ?? null;
      if (refusal !== null) throw new Error(refusal);
    }
    member.detaching = mode;
    this.log.info('detaching project', { id: member.record.id, mode });
    // Frozen jobs could not finish: a detaching project is no longer paused.
    member.record.paused = false;
    member.agent.refreshPolicy();
    const status = await member.agent.commands.getStatus();
    member.status = status;
    if (mode === 'abort') {
      for (const job of status.running) {
        await member.agent.commands.abortJob(job.jobId).catch(() => undefined);
      }
    }
    this.checkDetach(member);
    return this.refreshStatuses();
  }

  /** A detaching project without jobs in hand is removed (once). */
  private checkDetach(member: Member): void {
    if (member.detaching === null || member.removing) return;
    if ((member.status?.running.length ?? 1) > 0 || !this.members.includes(member)) return;
    member.removing = true;
    void this.finishDetach(member).catch((error: unknown) =>
      this.log.warn('detach failed', { id: member.record.id, error: String(error) }),
    );
  }

  private async finishDetach(member: Member): Promise<void> {
    member.unsubscribe();
    await member.agent.stop();
    const { id } = member.record;
    if (id === FIRST_PROJECT_ID) {
      await this.replaceFirstProject(member);
    } else {
      this.members.splice(this.members.indexOf(member), 1);
      fs.rmSync(projectDataDir(this.options.base.dataDir, id), { recursive: true, force: true });
    }
    this.save();
    this.log.info('project detached', { id, project: this.nameOf(member) });
    this.rebalance();
    this.emitStatus();
  }

  /** The first project forgotten: a fresh first agent with no project, the same preferences. */
  private async replaceFirstProject(old: Member): Promise<void> {
    const settings = { ...this.options.base.settings, ...this.hostSettings() } as AgentSettings;
    await this.options.base.persistSettings?.(settings);
    await this.options.firstProject?.forget?.();
    this.options.base = { ...this.options.base, settings };
    const name = this.nameOf(old);
    this.first = publicSettings(settings);
    const fresh = this.makeMember({ id: FIRST_PROJECT_ID, paused: false, share: DEFAULT_SHARE });
    this.members[this.members.indexOf(old)] = fresh;
    if (this.started) await this.startMember(fresh);
    this.log.info('first project forgotten', { project: name });
  }
}

export function createProjectSet(options: ProjectSetOptions): ProjectSet {
  return new ProjectSet(options);
}
