/**
 * `window.copilot` for a plain browser: the same CopilotApi as the Electron preload, over the
 * headless agent's GUI RPC (src/rpc/gui-rpc-server.ts). Commands are `POST /api/<name>` with the
 * argument array as JSON and the token in `x-copilot-token`; the reply body is the result as
 * JSON, or `{ "error": "…" }` with a non-2xx status. Events come from one Server-Sent Events
 * stream, `GET /api/events?token=…` (EventSource cannot set headers), each message's data being
 * `{ "event": <name>, "payload": … }`.
 */
import {
  RPC_EVENTS_PATH,
  RPC_TOKEN_HEADER,
  UI_COMMAND_NAMES,
  UI_EVENT_NAMES,
  rpcCommandPath,
  type CopilotApi,
  type UiCommandName,
  type UiEventName,
  type UiEvents,
} from '../contract/ui-contract';

export class CopilotRpcError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'CopilotRpcError';
  }
}

export interface HttpCopilotApiOptions {
  fetch?: typeof fetch;
  EventSource?: typeof EventSource;
}

type CommandMethods = Omit<CopilotApi, 'on'>;
type AnyListener = (payload: UiEvents[UiEventName]) => void;

function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && 'error' in body && typeof body.error === 'string') {
      return body.error;
    }
  } catch {
    // not JSON: use the text as it is
  }
  return text.trim() || `${response.status} ${response.statusText}`;
}

function isEventMessage(value: unknown): value is { event: UiEventName; payload: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'event' in value &&
    (UI_EVENT_NAMES as readonly unknown[]).includes(value.event) &&
    'payload' in value
  );
}

export function createHttpCopilotApi(
  baseUrl: string,
  token: string,
  options: HttpCopilotApiOptions = {},
): CopilotApi {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const EventSourceImpl = options.EventSource ?? globalThis.EventSource;

  const call = async (name: UiCommandName, args: unknown[]): Promise<unknown> => {
    const response = await doFetch(joinUrl(baseUrl, rpcCommandPath(name)), {
      method: 'POST',
      headers: { 'content-type': 'application/json', [RPC_TOKEN_HEADER]: token },
      body: JSON.stringify(args),
    });
    if (!response.ok) {
      throw new CopilotRpcError(`${name}: ${await errorMessage(response)}`, response.status);
    }
    return response.json() as Promise<unknown>;
  };
  const commands: Partial<Record<UiCommandName, unknown>> = {};
  for (const name of UI_COMMAND_NAMES) {
    commands[name] = (...args: unknown[]) => call(name, args);
  }

  const listeners = new Map<UiEventName, Set<AnyListener>>();
  let source: EventSource | null = null;
  const openStream = (): void => {
    if (source) return;
    const url = `${joinUrl(baseUrl, RPC_EVENTS_PATH)}?token=${encodeURIComponent(token)}`;
    source = new EventSourceImpl(url);
    source.onmessage = (message: MessageEvent<string>) => {
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!isEventMessage(data)) return;
      for (const listener of listeners.get(data.event) ?? []) {
        listener(data.payload as UiEvents[UiEventName]);
      }
    };
  };
  const closeStreamIfUnused = (): void => {
    if ([...listeners.values()].some((set) => set.size > 0)) return;
    source?.close();
    source = null;
  };

  const on = <E extends UiEventName>(
    event: E,
    listener: (payload: UiEvents[E]) => void,
  ): (() => void) => {
    if (!(UI_EVENT_NAMES as readonly string[]).includes(event)) {
      throw new Error(`unknown copilot event '${String(event)}'`);
    }
    const set = listeners.get(event) ?? new Set<AnyListener>();
    listeners.set(event, set);
    const wrapped = listener as AnyListener;
    set.add(wrapped);
    openStream();
    return () => {
      set.delete(wrapped);
      closeStreamIfUnused();
    };
  };

  return { ...(commands as CommandMethods), on };
}
