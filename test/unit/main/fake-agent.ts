import { vi } from 'vitest';
import { DEFAULT_SETTINGS, applySettingsPatch, publicSettings } from '@copilot/contract/settings';
import type { AgentStatus, JobsView } from '@copilot/contract/ui-contract';
import type { AgentHost, AgentHostEvents, AgentHostOptions } from '@copilot/core/agent-host';
import { TypedEmitter } from '@copilot/base/typed-emitter';

export function statusFixture(overrides: Partial<AgentStatus> = {}): AgentStatus {
  return {
    activity: 'waiting-for-work',
    statusLine: 'Waiting for work',
    connection: 'online',
    connectionMessage: '',
    jid: 'agent@localhost/desktop',
    jobManager: 'jm@localhost',
    docker: { available: true, message: 'Docker 27' },
    paused: false,
    pausedUntil: null,
    idle: { required: false, idleSeconds: 0, thresholdSeconds: 180, isIdle: false },
    slots: { total: 1, busy: 0 },
    cpuShare: 0.5,
    running: [],
    ...overrides,
  };
}

const EMPTY_JOBS: JobsView = {
  running: [],
  history: [],
  totals: { jobs: 0, succeeded: 0, failed: 0, cpuHours: 0, perDay: [] },
};

/**
 * A fake AgentHost that behaves like the real one at its edges: setSettings validates with the
 * contract's rules and calls persistSettings; settings go out with secrets blanked
 * (publicSettings); pause/resume emit a status event.
 */
export function createFakeAgent(options: AgentHostOptions) {
  let settings = options.settings;
  let status = statusFixture();
  const events = new TypedEmitter<AgentHostEvents>();
  const setStatus = (patch: Partial<AgentStatus>): AgentStatus => {
    status = { ...status, ...patch };
    events.emit('status', status);
    return status;
  };
  const agent = {
    options,
    events,
    setStatus,
    start: vi.fn(() => Promise.resolve()),
    stop: vi.fn(() => Promise.resolve()),
    reportIdleSeconds: vi.fn<(seconds: number) => void>(),
    commands: {
      getStatus: vi.fn(() => Promise.resolve(status)),
      getJobs: vi.fn(() => Promise.resolve(EMPTY_JOBS)),
      getSettings: vi.fn(() => Promise.resolve(publicSettings(settings))),
      setSettings: vi.fn(async (patch: Parameters<AgentHost['commands']['setSettings']>[0]) => {
        const result = applySettingsPatch(settings, patch);
        if (result.errors.length > 0) return { ok: false as const, errors: result.errors };
        await options.persistSettings?.(result.settings);
        settings = result.settings;
        return { ok: true as const, settings: publicSettings(settings) };
      }),
      pause: vi.fn((minutes?: number) =>
        Promise.resolve(
          setStatus({
            paused: true,
            activity: 'paused',
            statusLine: minutes ? `Paused for ${minutes} min` : 'Paused',
          }),
        ),
      ),
      resume: vi.fn(() =>
        Promise.resolve(
          setStatus({
            paused: false,
            activity: 'waiting-for-work',
            statusLine: 'Waiting for work',
          }),
        ),
      ),
      finishThenPause: vi.fn(() =>
        Promise.resolve(setStatus({ finishing: true, statusLine: 'Running 1 job, then pausing' })),
      ),
      suspendJob: vi.fn((_jobId: string) => Promise.resolve(status)),
      resumeJob: vi.fn((_jobId: string) => Promise.resolve(status)),
      abortJob: vi.fn((_jobId: string) => Promise.resolve(status)),
      getLog: vi.fn(() => Promise.resolve([])),
      previewAttachLink: vi.fn((_link: string) => Promise.reject(new Error('not a link'))),
      attachProject: vi.fn((_link: string) =>
        Promise.resolve({ ok: false as const, error: 'not in this fake' }),
      ),
      checkContainerEngine: vi.fn(() => Promise.resolve(status)),
      detachProject: vi.fn(() => Promise.resolve(status)),
      setProjectPaused: vi.fn(() => Promise.resolve(status)),
      setProjectShare: vi.fn(() => Promise.resolve(status)),
    },
  } satisfies AgentHost & Record<string, unknown>;
  return agent;
}

export type FakeAgent = ReturnType<typeof createFakeAgent>;
export { DEFAULT_SETTINGS };
