import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  RPC_EVENTS_PATH,
  RPC_TOKEN_HEADER,
  UI_COMMAND_NAMES,
  UI_EVENT_NAMES,
  type UiCommandName,
  type UiEventName,
  type UiEvents,
} from '../contract/ui-contract';
import type { AgentHost } from '../core/agent-host';
import { parseRpcArguments, RpcArgumentError } from './rpc-arguments';
import { loadOrCreateToken, tokensMatch } from './rpc-token';
import { serveStatic } from './static-files';
import { errorMessage } from '../base/errors';

export interface GuiRpcOptions {
  port: number;
  /** Loopback by default; anything else exposes the agent to the network (token still needed). */
  host?: string;
  tokenFile: string;
  /** The built renderer, served at / so the same UI runs in a browser. */
  staticDir?: string;
}

export interface GuiRpcServer {
  url: string;
  token: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const KEEPALIVE_MS = 15_000;
/** Unsent event data one stream may hold; a client that stops reading is dropped past it. */
const MAX_STREAM_BACKLOG_BYTES = 1024 * 1024;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const COMMANDS: ReadonlySet<string> = new Set(UI_COMMAND_NAMES);

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(value));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new RpcArgumentError('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Refuses other Host headers on a loopback server, which stops DNS-rebinding pages. */
function hostAllowed(request: IncomingMessage, bindHost: string): boolean {
  if (!LOOPBACK_HOSTS.has(bindHost) && bindHost !== '::1') return true;
  const header = request.headers.host ?? '';
  const name = header.startsWith('[')
    ? header.slice(0, header.indexOf(']') + 1)
    : header.split(':')[0];
  return LOOPBACK_HOSTS.has(name ?? '');
}

/**
 * Serves the UI contract over HTTP, BOINC GUI RPC style: POST /api/<command> with a JSON array of
 * arguments and the token header; GET /api/events?token=… streams events as Server-Sent Events.
 */
export async function startGuiRpcServer(
  agent: AgentHost,
  options: GuiRpcOptions,
): Promise<GuiRpcServer> {
  const token = await loadOrCreateToken(options.tokenFile);
  const bindHost = options.host ?? '127.0.0.1';
  const streams = new Set<ServerResponse>();

  const broadcast = <E extends UiEventName>(event: E, payload: UiEvents[E]): void => {
    const frame = `data: ${JSON.stringify({ event, payload })}\n\n`;
    for (const stream of streams) {
      // Its 'close' handler forgets it; EventSource reconnects by itself.
      if (stream.writableLength > MAX_STREAM_BACKLOG_BYTES) stream.destroy();
      else stream.write(frame);
    }
  };

  const handleCommand = async (
    name: UiCommandName,
    request: IncomingMessage,
    response: ServerResponse,
  ) => {
    const body = await readBody(request);
    let parsed: unknown;
    try {
      parsed = body.trim() === '' ? [] : JSON.parse(body);
    } catch {
      throw new RpcArgumentError('body is not JSON');
    }
    if (!Array.isArray(parsed))
      throw new RpcArgumentError('body must be a JSON array of arguments');
    const args = parseRpcArguments(name, parsed);
    const handler = agent.commands[name] as (...values: unknown[]) => Promise<unknown>;
    sendJson(response, 200, await handler(...args));
  };

  const openEventStream = (response: ServerResponse): void => {
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write(': connected\n\n');
    streams.add(response);
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
    response.on('close', () => {
      clearInterval(keepalive);
      streams.delete(response);
    });
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!hostAllowed(request, bindHost)) {
      sendJson(response, 403, { error: 'unexpected Host header' });
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      if (options.staticDir && (request.method === 'GET' || request.method === 'HEAD')) {
        void serveStatic(options.staticDir, url.pathname, response);
      } else {
        sendJson(response, 404, { error: 'not found' });
      }
      return;
    }
    const offered =
      url.pathname === RPC_EVENTS_PATH
        ? (url.searchParams.get('token') ?? undefined)
        : request.headers[RPC_TOKEN_HEADER]?.toString();
    if (!tokensMatch(token, offered)) {
      sendJson(response, 401, { error: 'missing or wrong token' });
      return;
    }
    if (url.pathname === RPC_EVENTS_PATH && request.method === 'GET') {
      openEventStream(response);
      return;
    }
    const name = url.pathname.slice('/api/'.length);
    if (request.method !== 'POST' || !COMMANDS.has(name)) {
      sendJson(response, 404, { error: `no such command: ${name}` });
      return;
    }
    handleCommand(name as UiCommandName, request, response).catch((error: unknown) => {
      const message = errorMessage(error);
      sendJson(response, error instanceof RpcArgumentError ? 400 : 500, { error: message });
    });
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port, bindHost, () => resolvePromise());
  });
  // Only a server that listens subscribes, so a port in use leaves no listener on the agent.
  const listeners = UI_EVENT_NAMES.map((event) => {
    const listener = (payload: UiEvents[typeof event]): void => broadcast(event, payload);
    agent.events.on(event, listener);
    return () => agent.events.off(event, listener);
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${hostForUrl}:${address.port}`,
    token,
    close: async () => {
      for (const unsubscribe of listeners) unsubscribe();
      for (const stream of streams) stream.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
    },
  };
}
