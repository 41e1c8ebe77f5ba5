import type { IpcRenderer, IpcRendererEvent } from 'electron';
import {
  UI_COMMAND_NAMES,
  UI_EVENT_NAMES,
  ipcCommandChannel,
  ipcEventChannel,
  type CopilotApi,
  type UiCommandName,
  type UiEventName,
  type UiEvents,
} from '../contract/ui-contract';

type CommandMethods = Omit<CopilotApi, 'on'>;

/** Compile-time check that UI_COMMAND_NAMES lists every command of the contract. */
type MissingCommands = Exclude<UiCommandName, (typeof UI_COMMAND_NAMES)[number]>;
const allCommandsListed: [MissingCommands] extends [never] ? true : MissingCommands = true;
void allCommandsListed;

/** Builds `window.copilot` from the contract: one invoke per command, `on` for the events. */
export function buildIpcCopilotApi(
  ipc: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>,
): CopilotApi {
  const commands: Partial<Record<UiCommandName, unknown>> = {};
  for (const name of UI_COMMAND_NAMES) {
    commands[name] = (...args: unknown[]) => ipc.invoke(ipcCommandChannel(name), ...args);
  }
  const knownEvents: ReadonlySet<string> = new Set(UI_EVENT_NAMES);
  const on = <E extends UiEventName>(
    event: E,
    listener: (payload: UiEvents[E]) => void,
  ): (() => void) => {
    if (!knownEvents.has(event)) throw new Error(`unknown copilot event '${String(event)}'`);
    const channel = ipcEventChannel(event);
    const wrapped = (_event: IpcRendererEvent, payload: UiEvents[E]): void => listener(payload);
    ipc.on(channel, wrapped);
    return () => {
      ipc.removeListener(channel, wrapped);
    };
  };
  return { ...(commands as CommandMethods), on };
}
