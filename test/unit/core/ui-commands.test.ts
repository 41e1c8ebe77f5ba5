import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentSettings, AgentStatus } from '@copilot/contract/ui-contract';
import { JobHistory } from '@copilot/core/job-history';
import { JobSlots } from '@copilot/core/job-slots';
import { JobStore } from '@copilot/core/job-store';
import { ResourcePolicy } from '@copilot/core/resource-policy';
import { createUiCommands, type SettingsUiCommands } from '@copilot/core/ui-commands';
import { silentLogger } from '@copilot/base/logger';
import { FakeRunner, JM, sharedLifecycleDeps } from './fakes';

const HOST_CPUS = 4;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ui-commands-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  commands: SettingsUiCommands;
  current: () => AgentSettings;
  persisted: AgentSettings[];
  policy: ResourcePolicy;
  reconnects: number;
  updates: Array<boolean | undefined>;
  pumps: number;
  engineChecks: number;
  applyLimits: ReturnType<typeof vi.spyOn>;
  applyPolicy: ReturnType<typeof vi.spyOn>;
}

function rig(settings: Partial<AgentSettings> = {}): Rig {
  let current: AgentSettings = {
    ...DEFAULT_SETTINGS,
    jobManagerAddress: JM,
    xmppServer: 'xmpp.example.org',
    xmppDomain: 'example.org',
    xmppUsername: 'agent',
    xmppPassword: 'hunter2',
    runOnlyWhenIdle: false,
    ...settings,
  };
  const policy = new ResourcePolicy(current);
  const runner = new FakeRunner();
  const store = new JobStore(dir);
  const history = new JobHistory(dir);
  const slots = new JobSlots({
    lifecycle: sharedLifecycleDeps({
      runner,
      store,
      limits: () => policy.limits(HOST_CPUS),
      replyTimeoutMs: 100,
    }),
    runner,
    store,
    history,
    logger: silentLogger,
    wallClockLimitMs: 60_000,
    mayRun: () => policy.decide(Date.now()).run,
    limits: () => policy.limits(HOST_CPUS),
    dockerAvailable: () => true,
    stopped: () => false,
    onLifecycleFailure: () => undefined,
    onChange: () => undefined,
    onFreed: () => undefined,
    onJobDone: () => undefined,
  });
  const result: Rig = {
    commands: undefined as unknown as SettingsUiCommands,
    current: () => current,
    persisted: [],
    policy,
    reconnects: 0,
    updates: [],
    pumps: 0,
    engineChecks: 0,
    applyLimits: vi.spyOn(slots, 'applyLimits'),
    applyPolicy: vi.spyOn(slots, 'applyPolicy'),
  };
  const status = (): AgentStatus =>
    ({ paused: current.paused || policy.pausedUntil(Date.now()) !== null }) as AgentStatus;
  result.commands = createUiCommands({
    settings: {
      get: () => current,
      set: (next) => {
        current = next;
        policy.update(next);
        result.persisted.push(next);
        return Promise.resolve();
      },
    },
    policy,
    slots,
    history,
    logger: silentLogger,
    hostCpuCount: HOST_CPUS,
    status,
    log: () => [],
    reconnect: () => {
      result.reconnects += 1;
      return Promise.resolve();
    },
    update: (force) => result.updates.push(force),
    pump: () => {
      result.pumps += 1;
    },
    checkEngine: () => {
      result.engineChecks += 1;
      return Promise.resolve();
    },
  });
  return result;
}

describe('UI commands: settings', () => {
  it('refuses an invalid patch without persisting or applying anything', async () => {
    const r = rig();
    const result = await r.commands.setSettings({ cpuLimitPercent: 150 });
    expect(result).toEqual({
      ok: false,
      errors: [{ field: 'cpuLimitPercent', message: 'CPU limit must be between 1 and 100' }],
    });
    expect(r.persisted).toEqual([]);
    expect(r.current().cpuLimitPercent).toBe(50);
    expect(r.reconnects).toBe(0);
    expect(r.applyLimits).not.toHaveBeenCalled();
    expect(r.applyPolicy).not.toHaveBeenCalled();
    expect(r.updates).toEqual([]);
  });

  it('refuses unknown fields', async () => {
    const r = rig();
    const patch = { notASetting: 1 } as unknown as Partial<AgentSettings>;
    const result = await r.commands.setSettings(patch);
    expect(result.ok).toBe(false);
    expect(r.persisted).toEqual([]);
  });

  it('reconnects when a connection field changes, without touching the container limits', async () => {
    const r = rig();
    const result = await r.commands.setSettings({ xmppServer: 'other.example.org' });
    expect(result.ok).toBe(true);
    expect(r.persisted.at(-1)?.xmppServer).toBe('other.example.org');
    expect(r.reconnects).toBe(1);
    expect(r.applyLimits).not.toHaveBeenCalled();
    expect(r.applyPolicy).toHaveBeenCalledTimes(1);
    expect(r.updates).toEqual([true]);
    expect(r.pumps).toBe(1);
  });

  it('does not reconnect when a connection field is set to the value it has', async () => {
    const r = rig();
    const result = await r.commands.setSettings({ xmppServer: 'xmpp.example.org' });
    expect(result.ok).toBe(true);
    expect(r.reconnects).toBe(0);
  });

  it('applies a CPU change to the running containers and does not reconnect', async () => {
    const r = rig();
    const result = await r.commands.setSettings({ cpuLimitPercent: 25 });
    expect(result.ok).toBe(true);
    expect(r.persisted.at(-1)?.cpuLimitPercent).toBe(25);
    expect(r.applyLimits).toHaveBeenCalledTimes(1);
    expect(r.reconnects).toBe(0);
  });

  it('never returns the password, from getSettings or setSettings', async () => {
    const r = rig();
    const shown = await r.commands.getSettings();
    expect(shown.xmppPassword).toBe('');
    expect(shown.xmppPasswordSet).toBe(true);
    expect(JSON.stringify(shown)).not.toContain('hunter2');
    const result = await r.commands.setSettings({ xmppPassword: 'correct horse' });
    expect(result.ok && result.settings.xmppPassword).toBe('');
    expect(JSON.stringify(result)).not.toContain('correct horse');
    expect(r.current().xmppPassword).toBe('correct horse');
    expect(r.reconnects).toBe(1);
    expect(JSON.stringify(await r.commands.getSettings())).not.toContain('correct horse');
  });

  it('keeps the stored password when the patch leaves it empty', async () => {
    const r = rig();
    const result = await r.commands.setSettings({ xmppPassword: '', cpuLimitPercent: 30 });
    expect(result.ok).toBe(true);
    expect(r.current().xmppPassword).toBe('hunter2');
    expect(r.reconnects).toBe(0);
  });
});

describe('UI commands: pause and resume', () => {
  it.each([0, -5, 10_081, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses to pause for %s minutes',
    async (minutes) => {
      const r = rig();
      await expect(r.commands.pause(minutes)).rejects.toThrow(
        'pause minutes must be between 0 and 10080',
      );
      expect(r.policy.pausedUntil(Date.now())).toBeNull();
      expect(r.persisted).toEqual([]);
      expect(r.applyPolicy).not.toHaveBeenCalled();
    },
  );

  it('pauses for a number of minutes without persisting it', async () => {
    const r = rig();
    const before = Date.now();
    const status = await r.commands.pause(10_080);
    expect(status.paused).toBe(true);
    const until = r.policy.pausedUntil(Date.now());
    expect(until).not.toBeNull();
    expect(until).toBeGreaterThanOrEqual(before + 10_080 * 60_000);
    expect(r.persisted).toEqual([]);
    expect(r.current().paused).toBe(false);
    expect(r.applyPolicy).toHaveBeenCalledTimes(1);
    expect(r.updates).toEqual([true]);
  });

  it('persists paused on pause() and clears it on resume()', async () => {
    const r = rig();
    await r.commands.pause();
    expect(r.persisted.map((settings) => settings.paused)).toEqual([true]);
    expect(r.policy.decide(Date.now())).toEqual({ run: false, reason: 'paused' });
    expect(r.applyPolicy).toHaveBeenCalledTimes(1);
    // Already paused: nothing more to persist.
    await r.commands.pause();
    expect(r.persisted).toHaveLength(1);
    const status = await r.commands.resume();
    expect(status.paused).toBe(false);
    expect(r.persisted.map((settings) => settings.paused)).toEqual([true, false]);
    expect(r.policy.decide(Date.now())).toEqual({ run: true });
    expect(r.pumps).toBe(1);
    // Already running: nothing more to persist.
    await r.commands.resume();
    expect(r.persisted).toHaveLength(2);
  });

  it('resume() also ends a timed pause', async () => {
    const r = rig();
    await r.commands.pause(30);
    await r.commands.resume();
    expect(r.policy.pausedUntil(Date.now())).toBeNull();
    expect(r.policy.decide(Date.now())).toEqual({ run: true });
    expect(r.persisted).toEqual([]);
  });
});

describe('UI commands: jobs and log', () => {
  it('lists running jobs, history and totals', async () => {
    const r = rig();
    const view = await r.commands.getJobs();
    expect(view).toEqual({
      running: [],
      history: [],
      totals: expect.objectContaining({ jobs: 0 }) as unknown,
    });
  });
});

describe('UI commands: per-job control', () => {
  it('finish then pause with no job in hand pauses at once; with jobs it waits for them', async () => {
    const r = rig();
    await r.commands.finishThenPause();
    expect(r.current().paused).toBe(true);
    expect(r.policy.finishing).toBe(false);
    await r.commands.resume();
    expect(r.current().paused).toBe(false);
  });

  it('refuses a job it does not hold', async () => {
    const r = rig();
    await expect(r.commands.suspendJob('nope')).rejects.toThrow('no job nope in hand');
    await expect(r.commands.resumeJob('nope')).rejects.toThrow('no job nope in hand');
    await expect(r.commands.abortJob('nope')).rejects.toThrow('no job nope in hand');
  });
});

describe('UI commands: the container engine', () => {
  it('checkContainerEngine asks for the engine at once, then sends and returns the status', async () => {
    const r = rig();
    expect(r.engineChecks).toBe(0);
    const status = await r.commands.checkContainerEngine();
    expect(r.engineChecks).toBe(1);
    expect(r.updates).toEqual([true]);
    expect(status.paused).toBe(false);
  });
});
