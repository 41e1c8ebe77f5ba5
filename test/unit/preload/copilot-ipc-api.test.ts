import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import {
  UI_COMMAND_NAMES,
  ipcCommandChannel,
  ipcEventChannel,
  type AgentStatus,
} from '@copilot/contract/ui-contract';
import { buildIpcCopilotApi } from '@copilot/preload/copilot-ipc-api';

function fakeIpcRenderer() {
  const emitter = new EventEmitter();
  return {
    emitter,
    invoke: vi.fn((channel: string, ...args: unknown[]) => Promise.resolve({ channel, args })),
    on: vi.fn((channel: string, listener: (...args: unknown[]) => void) => {
      emitter.on(channel, listener);
      return undefined as never;
    }),
    removeListener: vi.fn((channel: string, listener: (...args: unknown[]) => void) => {
      emitter.removeListener(channel, listener);
      return undefined as never;
    }),
  };
}

describe('preload window.copilot', () => {
  it('has one method per contract command, each invoking its channel with its args', async () => {
    const ipc = fakeIpcRenderer();
    const api = buildIpcCopilotApi(ipc);
    for (const name of UI_COMMAND_NAMES) expect(typeof api[name]).toBe('function');
    await expect(api.pause(30)).resolves.toEqual({
      channel: ipcCommandChannel('pause'),
      args: [30],
    });
    await api.setSettings({ jobSlots: 2 });
    expect(ipc.invoke).toHaveBeenLastCalledWith(ipcCommandChannel('setSettings'), { jobSlots: 2 });
  });

  it('delivers events to listeners until they unsubscribe, and refuses unknown events', () => {
    const ipc = fakeIpcRenderer();
    const api = buildIpcCopilotApi(ipc);
    const seen: string[] = [];
    const off = api.on('status', (status) => seen.push(status.statusLine));
    ipc.emitter.emit(ipcEventChannel('status'), {}, { statusLine: 'Paused' } as AgentStatus);
    off();
    ipc.emitter.emit(ipcEventChannel('status'), {}, { statusLine: 'Running' } as AgentStatus);
    expect(seen).toEqual(['Paused']);
    expect(() => api.on('nope' as 'log', () => undefined)).toThrow(/unknown copilot event/);
  });
});
