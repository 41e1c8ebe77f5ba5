import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS, applySettingsPatch, publicSettings } from '@copilot/contract/settings';
import type {
  AgentSettings,
  AgentStatus,
  JobHistoryRecord,
  RunningJob,
} from '@copilot/contract/ui-contract';
import { silentLogger } from '@copilot/base/logger';
import { TypedEmitter } from '@copilot/base/typed-emitter';
import type { AgentHostEvents } from '@copilot/core/agent-host';
import type { Agent, AgentOptions } from '@copilot/core/agent-options';
import { ProjectSet } from '@copilot/core/project-set';
import { fileProjectStore, PROJECTS_FILE } from '@copilot/core/project-store';
import { buildAttachLink } from '@copilot/protocol/attach-link';
import type { JobRunner } from '@copilot/core/docker-runner';
import { statusFixture } from '../main/fake-agent';

const FIRST: AgentSettings = {
  ...DEFAULT_SETTINGS,
  projectName: 'First',
  jobManagerAddress: 'jm@one.example',
  xmppServer: 'one.example',
  xmppDomain: 'one.example',
  xmppUsername: 'v1',
  xmppPassword: 'first-secret',
  cpuLimitPercent: 80,
};

function job(jobId: string): RunningJob {
  return {
    jobId,
    manager: 'jm',
    command: 'x',
    phase: 'running',
    receivedAt: new Date(0).toISOString(),
    startedAt: null,
    elapsedMs: 0,
    wallClockLimitMs: 1,
    cpuSeconds: 0,
    progress: null,
    etaMs: null,
  };
}

/** An agent as createAgent makes one, far enough for the set: settings, status, jobs, hooks. */
class FakeAgent {
  readonly events = new TypedEmitter<AgentHostEvents>();
  settings: AgentSettings;
  running: RunningJob[] = [];
  started = false;
  refreshed = 0;
  history: JobHistoryRecord[] = [];
  readonly commands: Agent['commands'];
  constructor(readonly options: AgentOptions) {
    this.settings = { ...options.settings };
    const status = (): Promise<AgentStatus> => Promise.resolve(this.status());
    const reject = (): Promise<never> => Promise.reject(new Error('not in the fake'));
    this.commands = {
      getStatus: status,
      getJobs: () =>
        Promise.resolve({
          running: this.running,
          history: this.history,
          totals: { jobs: this.history.length, succeeded: 0, failed: 0, cpuHours: 0, perDay: [] },
        }),
      getSettings: () => Promise.resolve(publicSettings(this.settings)),
      setSettings: async (patch) => {
        const applied = applySettingsPatch(this.settings, patch);
        if (applied.errors.length > 0) return { ok: false, errors: applied.errors };
        this.settings = applied.settings;
        await options.persistSettings?.(this.settings);
        return { ok: true, settings: publicSettings(this.settings) };
      },
      pause: async () => {
        await this.commands.setSettings({ paused: true });
        return this.status();
      },
      resume: async () => {
        await this.commands.setSettings({ paused: false });
        return this.status();
      },
      finishThenPause: status,
      suspendJob: status,
      resumeJob: status,
      abortJob: (jobId) => {
        this.setRunning(this.running.filter((j) => j.jobId !== jobId));
        return status();
      },
      getLog: () => Promise.resolve([]),
      previewAttachLink: reject,
      attachProject: async () => {
        await this.commands.setSettings({ jobManagerAddress: 'jm@new.example', projectName: 'N' });
        return { ok: true, projectName: 'N', jid: 'v@new.example' };
      },
      checkContainerEngine: status,
      detachProject: reject,
      setProjectPaused: reject,
      setProjectShare: reject,
    };
  }
  status(): AgentStatus {
    return statusFixture({
      running: this.running,
      jobManager: this.settings.jobManagerAddress,
      paused: this.settings.paused,
      activity: this.running.length > 0 ? 'running' : 'waiting-for-work',
    });
  }
  setRunning(jobs: RunningJob[]): void {
    this.running = jobs;
    this.events.emit('status', this.status());
  }
  asAgent(): Agent {
    return {
      commands: this.commands,
      events: this.events,
      logger: silentLogger,
      session: undefined,
      runner: { cpuSeconds: () => 0 } as unknown as JobRunner,
      dataDir: this.options.dataDir,
      start: () => {
        this.started = true;
        return Promise.resolve();
      },
      stop: () => {
        this.started = false;
        return Promise.resolve();
      },
      reportIdleSeconds: () => undefined,
      refreshPolicy: () => {
        this.refreshed += 1;
      },
    };
  }
}

let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'project-set-'));
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function makeSet(settings: AgentSettings = FIRST, extra: Partial<ProjectSetParts> = {}) {
  const agents: FakeAgent[] = [];
  const persisted: AgentSettings[] = [];
  const set = new ProjectSet({
    base: {
      settings,
      dataDir,
      persistSettings: (next) => {
        persisted.push(next);
      },
    },
    createAgent: (options) => {
      const agent = new FakeAgent(options);
      agents.push(agent);
      return agent.asAgent();
    },
    register: () => Promise.resolve(),
    ...extra,
  });
  const byDir = (dir: string): FakeAgent => {
    const found = agents.filter((agent) => agent.options.dataDir === dir).at(-1);
    if (!found) throw new Error(`no agent for ${dir}`);
    return found;
  };
  return { set, agents, persisted, byDir };
}
type ProjectSetParts = ConstructorParameters<typeof ProjectSet>[0];

function link(name: string, domain: string): string {
  return buildAttachLink({
    projectName: name,
    xmppServer: `${domain}:5222`,
    xmppDomain: domain,
    managerJids: [`jm@${domain}`],
    allowedImageRegistries: [],
    adminAccounts: [],
    inviteToken: `invite-${name}`,
  });
}

describe('ProjectSet: the first project as before', () => {
  it('runs the stored settings as project main in the data dir itself, writing no projects.json', async () => {
    const { set, agents, persisted } = makeSet();
    await set.start();
    expect(agents).toHaveLength(1);
    const [first] = agents;
    expect(first?.options.dataDir).toBe(dataDir);
    expect(first?.options.settings).toEqual(FIRST);
    expect(first?.started).toBe(true);
    const status = await set.commands.getStatus();
    expect(status.projects).toEqual([
      expect.objectContaining({ id: 'main', name: 'First', manager: 'jm@one.example', share: 100 }),
    ]);
    expect(status.projects?.[0]?.cpuShare).toBeCloseTo(0.5);
    const changed = await set.commands.setSettings({ cpuLimitPercent: 60, projectName: 'One' });
    expect(changed.ok).toBe(true);
    expect(persisted.at(-1)).toMatchObject({ cpuLimitPercent: 60, projectName: 'One' });
    expect(persisted.at(-1)?.xmppPassword).toBe('first-secret');
    expect(fs.existsSync(path.join(dataDir, PROJECTS_FILE))).toBe(false);
  });

  it('attaches the first project through the first agent when none is attached', async () => {
    const { set, agents } = makeSet({ ...DEFAULT_SETTINGS });
    await set.start();
    expect((await set.commands.getStatus()).projects).toEqual([]);
    const result = await set.commands.attachProject(link('N', 'new.example'));
    expect(result).toMatchObject({ ok: true, projectName: 'N' });
    expect(agents).toHaveLength(1);
    expect((await set.commands.getStatus()).projects?.map((p) => p.id)).toEqual(['main']);
  });
});

describe('ProjectSet: more projects', () => {
  it('adds a project beside the first, with its own data dir, account and the shared preferences', async () => {
    const { set, agents } = makeSet();
    await set.start();
    const preview = await set.commands.previewAttachLink(link('Second', 'two.example'));
    expect(preview.replacesProject).toBeNull();
    const result = await set.commands.attachProject(link('Second', 'two.example'));
    expect(result).toMatchObject({ ok: true, projectName: 'Second' });
    expect(agents).toHaveLength(2);
    const second = agents[1];
    expect(second?.started).toBe(true);
    expect(second?.options.dataDir).toMatch(/projects[/\\][0-9a-f]{8}$/);
    expect(second?.settings).toMatchObject({
      projectName: 'Second',
      xmppDomain: 'two.example',
      requireTls: true,
      cpuLimitPercent: 80,
    });
    expect(second?.settings.xmppUsername).toMatch(/^v-/);
    expect(second?.settings.xmppPassword).not.toBe('first-secret');
    expect(second?.options.resource).toBeUndefined();
    const status = await set.commands.getStatus();
    expect(status.projects?.map((p) => p.name)).toEqual(['First', 'Second']);
    // The same project again is refused before the invite is spent.
    await expect(set.commands.previewAttachLink(link('Second', 'two.example'))).rejects.toThrow(
      /attached already/,
    );
    expect(await set.commands.attachProject(link('Second', 'two.example'))).toMatchObject({
      ok: false,
    });
    // Stored with its password (0600), and read back by the next start.
    const file = path.join(dataDir, PROJECTS_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const again = makeSet();
    expect(again.agents.map((agent) => agent.settings.projectName)).toEqual(['First', 'Second']);
    expect(again.agents[1]?.settings.xmppPassword).toBe(second?.settings.xmppPassword);
  });

  it('applies the computing preferences to every project and the project fields to the first', async () => {
    const { set, agents } = makeSet();
    await set.start();
    await set.commands.attachProject(link('Second', 'two.example'));
    await set.commands.setSettings({ memoryLimitMb: 512, projectName: 'Renamed' });
    expect(agents[0]?.settings).toMatchObject({ memoryLimitMb: 512, projectName: 'Renamed' });
    expect(agents[1]?.settings).toMatchObject({ memoryLimitMb: 512, projectName: 'Second' });
    await set.commands.pause();
    expect(agents.every((agent) => agent.settings.paused)).toBe(true);
    await set.commands.resume();
    expect(agents.some((agent) => agent.settings.paused)).toBe(false);
  });
});

describe('ProjectSet: resource shares', () => {
  it('splits the CPU by share among the projects with jobs running', async () => {
    const { set, agents } = makeSet();
    await set.start();
    await set.commands.attachProject(link('Second', 'two.example'));
    const [first, second] = agents;
    if (!first || !second) throw new Error('two agents');
    const factor = (agent: FakeAgent): number => agent.options.cpuFactor?.() ?? -1;
    const status = await set.commands.getStatus();
    const secondId = status.projects?.[1]?.id ?? '';
    await set.commands.setProjectShare(secondId, 300);
    // Nobody runs: each would have its share of the two.
    first.setRunning([job('a')]);
    expect(factor(first)).toBe(1);
    expect(factor(second)).toBeCloseTo(0.75);
    second.setRunning([job('b')]);
    expect(factor(first)).toBeCloseTo(0.25);
    expect(factor(second)).toBeCloseTo(0.75);
    expect(first.refreshed).toBeGreaterThan(0);
    const shown = await set.commands.getStatus();
    expect(shown.projects?.map((p) => p.cpuShare)).toEqual([
      expect.closeTo(0.125, 5),
      expect.closeTo(0.375, 5),
    ]);
    expect(shown.running.map((j) => [j.jobId, j.project])).toEqual([
      ['a', 'First'],
      ['b', 'Second'],
    ]);
    // The first ends its job: the second has all the CPU again.
    first.setRunning([]);
    expect(factor(second)).toBe(1);
    await expect(set.commands.setProjectShare(secondId, 0)).rejects.toThrow(/1 to 1000/);
    await expect(set.commands.setProjectShare('nope', 10)).rejects.toThrow(/no project/);
  });
});

describe('ProjectSet: pause and detach', () => {
  it('pauses one project with a hold on its policy, kept across restarts', async () => {
    const { set, agents } = makeSet();
    await set.start();
    await set.commands.attachProject(link('Second', 'two.example'));
    const [first, second] = agents;
    const id = (await set.commands.getStatus()).projects?.[1]?.id ?? '';
    const before = second?.refreshed ?? 0;
    const status = await set.commands.setProjectPaused(id, true);
    expect(status.projects?.[1]?.paused).toBe(true);
    expect(second?.options.hold?.()).toMatchObject({ run: false, reason: 'paused' });
    expect(first?.options.hold?.()).toBeNull();
    expect(second?.refreshed).toBeGreaterThan(before);
    expect(makeSet().agents[1]?.options.hold?.()).toMatchObject({ run: false });
    await set.commands.setProjectPaused(id, false);
    expect(second?.options.hold?.()).toBeNull();
  });

  it('detaches a project: aborts its jobs, forgets its settings and password, removes its dir', async () => {
    const { set, agents } = makeSet();
    await set.start();
    await set.commands.attachProject(link('Second', 'two.example'));
    const second = agents[1];
    if (!second) throw new Error('second agent');
    const dir = second.options.dataDir;
    fs.mkdirSync(dir, { recursive: true });
    second.setRunning([job('b1')]);
    const id = (await set.commands.getStatus()).projects?.[1]?.id ?? '';
    const abort = vi.spyOn(second.commands, 'abortJob');
    await set.commands.detachProject(id, 'abort');
    expect(abort).toHaveBeenCalledWith('b1');
    await vi.waitUntil(() => !second.started);
    await vi.waitUntil(async () => (await set.commands.getStatus()).projects?.length === 1);
    expect(fs.existsSync(dir)).toBe(false);
    const stored = fs.readFileSync(path.join(dataDir, PROJECTS_FILE), 'utf8');
    expect(stored).not.toContain(second.settings.xmppPassword);
    expect(stored).not.toContain('two.example');
  });

  it('detaching with finish asks for no more work and waits for the running jobs', async () => {
    const { set, agents } = makeSet();
    await set.start();
    await set.commands.attachProject(link('Second', 'two.example'));
    const second = agents[1];
    if (!second) throw new Error('second agent');
    second.setRunning([job('b1')]);
    const id = (await set.commands.getStatus()).projects?.[1]?.id ?? '';
    const status = await set.commands.detachProject(id, 'finish');
    expect(status.projects?.[1]?.detaching).toBe(true);
    expect(second.options.allowsNewWork?.()).toBe(false);
    expect(second.started).toBe(true);
    second.setRunning([]);
    await vi.waitUntil(() => !second.started);
  });

  it('detaching the first project forgets it through the host and keeps the preferences', async () => {
    const forget = vi.fn();
    const { set, agents, persisted } = makeSet(FIRST, {
      firstProject: { refusal: () => null, forget },
    });
    await set.start();
    await set.commands.detachProject('main', 'finish');
    await vi.waitUntil(() => agents.length === 2 && agents[1]?.started === true);
    expect(forget).toHaveBeenCalledOnce();
    expect(agents[1]?.settings).toMatchObject({
      jobManagerAddress: '',
      xmppPassword: '',
      cpuLimitPercent: 80,
    });
    expect(persisted.at(-1)).toMatchObject({ jobManagerAddress: '', xmppUsername: '' });
    expect((await set.commands.getStatus()).projects).toEqual([]);
  });

  it('refuses to detach the first project when the host says why', async () => {
    const { set } = makeSet(FIRST, {
      firstProject: { refusal: () => 'set in the config file' },
    });
    await set.start();
    await expect(set.commands.detachProject('main')).rejects.toThrow(/config file/);
  });
});

describe('fileProjectStore', () => {
  it('seals the passwords with the host secret store when it has one', () => {
    const secrets = {
      seal: (plain: string) => Buffer.from(plain).toString('base64'),
      unseal: (sealed: string) => Buffer.from(sealed, 'base64').toString(),
    };
    const store = fileProjectStore(dataDir, { secrets });
    store.save([
      { id: 'main', share: 100, paused: false },
      { id: 'abc', share: 50, paused: true, settings: { ...FIRST, xmppPassword: 'pw-xyz' } },
    ]);
    const text = fs.readFileSync(path.join(dataDir, PROJECTS_FILE), 'utf8');
    expect(text).not.toContain('pw-xyz');
    const [, second] = store.load();
    expect(second).toMatchObject({ id: 'abc', share: 50, paused: true });
    expect(second?.settings?.xmppPassword).toBe('pw-xyz');
    // Without the secret store the sealed password cannot be read: empty, the project stays.
    expect(fileProjectStore(dataDir).load()[1]?.settings?.xmppPassword).toBe('');
  });

  it('reads a missing or broken file as the first project alone', () => {
    const logs: string[] = [];
    const store = fileProjectStore(dataDir, { log: (m) => logs.push(m) });
    expect(store.load()).toEqual([{ id: 'main', share: 100, paused: false }]);
    fs.writeFileSync(path.join(dataDir, PROJECTS_FILE), '{"projects":[{"id":"../x"}]}');
    expect(store.load()).toEqual([{ id: 'main', share: 100, paused: false }]);
    expect(logs.join('\n')).toMatch(/unreadable/);
  });
});
