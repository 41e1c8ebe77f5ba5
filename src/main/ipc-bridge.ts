import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import {
  UI_COMMAND_NAMES,
  UI_EVENT_NAMES,
  ipcCommandChannel,
  ipcEventChannel,
  type UiCommandHandlers,
  type UiCommandName,
  type UiCommands,
  type UiEventName,
  type UiEvents,
} from '../contract/ui-contract';
import type { AgentHost } from '../core/agent-host';

function invokeCommand<K extends UiCommandName>(
  handlers: UiCommandHandlers,
  name: K,
  args: unknown[],
): Promise<UiCommands[K]['result']> {
  // The renderer is untrusted input: the agent's handlers validate their arguments themselves.
  const handler = handlers[name] as (...args: unknown[]) => Promise<UiCommands[K]['result']>;
  return handler(...args);
}

/**
 * Binds every UI command to `ipcMain.handle('copilot:<name>')`. Calls from any other page than
 * ours (`isTrustedSender`) are refused. Returns a function that removes the handlers.
 */
export function registerCommandHandlers(
  ipc: Pick<IpcMain, 'handle' | 'removeHandler'>,
  handlers: UiCommandHandlers,
  isTrustedSender: (event: IpcMainInvokeEvent) => boolean,
): () => void {
  for (const name of UI_COMMAND_NAMES) {
    ipc.handle(ipcCommandChannel(name), (event, ...args: unknown[]) => {
      if (!isTrustedSender(event)) throw new Error(`copilot:${name} refused: untrusted sender`);
      return invokeCommand(handlers, name, args);
    });
  }
  return () => {
    for (const name of UI_COMMAND_NAMES) ipc.removeHandler(ipcCommandChannel(name));
  };
}

export type EventSink = (channel: string, payload: UiEvents[UiEventName]) => void;

/** Forwards every agent event to `send(copilot:event:<name>, payload)`; returns an unsubscribe. */
export function forwardAgentEvents(events: AgentHost['events'], send: EventSink): () => void {
  const unsubscribes = UI_EVENT_NAMES.map((name) => forwardOne(events, name, send));
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}

function forwardOne<E extends UiEventName>(
  events: AgentHost['events'],
  name: E,
  send: EventSink,
): () => void {
  const listener = (payload: UiEvents[E]): void => send(ipcEventChannel(name), payload);
  // TypedEmitter's tuple types are checked per event; this is the one place that loops over all.
  const on = events.on.bind(events) as (event: E, listener: (payload: UiEvents[E]) => void) => void;
  const off = events.off.bind(events) as (
    event: E,
    listener: (payload: UiEvents[E]) => void,
  ) => void;
  on(name, listener);
  return () => off(name, listener);
}
