import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page';
import type { DashboardSnapshot } from './dashboard-state';
import type { AdminGate } from './admin-gate';
import { AttachLinkFileError, type AttachLinkSource } from './attach-link-view';
import {
  ActionRequestError,
  MAX_ACTION_BODY_BYTES,
  parseConsoleAction,
  type ConsoleAction,
} from './console-requests';
import {
  formatPrometheus,
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusFamily,
} from './prometheus-format';
import { errorMessage } from '@copilot/base/errors';

export interface MonitorHttpSources {
  snapshot: () => DashboardSnapshot;
  families: () => PrometheusFamily[];
  /** The fleet console's actions (POST), when a console is configured. */
  actions?: ConsoleActions;
  /** The project's attach link (MON_ATTACH_LINK_FILE), for admin token holders only. */
  attachLink?: AttachLinkSource;
}

const ATTACH_LINK_PATH = '/api/attach-link';

export interface ConsoleActions {
  gate: AdminGate;
  /** Runs a checked action; its result is sent back as JSON. */
  run(action: ConsoleAction): Promise<unknown>;
  /** True for errors that mean "no such member" (404). */
  isUnknownTarget(error: unknown): boolean;
}

const ACTION_PATHS = new Set(['/api/console/ask', '/api/console/order']);

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopback(bindHost: string): boolean {
  return bindHost === 'localhost' || bindHost === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bindHost);
}

/**
 * On a loopback address, only requests addressed to a loopback name are answered: a web page
 * whose own name was rebound to 127.0.0.1 (DNS rebinding) sends its own name as Host, and would
 * otherwise read the fleet (real JIDs, statuses) from the admin's browser.
 */
function hostAllowed(request: http.IncomingMessage, bindHost: string): boolean {
  if (!isLoopback(bindHost)) return true;
  const header = (request.headers.host ?? '').toLowerCase();
  const name = header.startsWith('[')
    ? header.slice(0, header.indexOf(']') + 1)
    : (header.split(':')[0] ?? '');
  return LOOPBACK_NAMES.has(name) || (isLoopback(name) && name !== '::1');
}

type Send = (status: number, type: string, body: string) => void;

function sendJson(send: Send, status: number, body: unknown): void {
  send(status, 'application/json', JSON.stringify(body));
}

/** Reads at most `limit` bytes; undefined when the body is longer. */
function readBody(request: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Only an authenticated request gets here: the rest is read and thrown away.
        request.removeAllListeners('data');
        request.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** POST /api/console/*: the gate first, then the body, then the action; nothing else is done. */
async function handleAction(
  actions: ConsoleActions | undefined,
  path: string,
  request: http.IncomingMessage,
  send: Send,
): Promise<void> {
  if (!actions) {
    sendJson(send, 404, { error: 'no fleet console is configured' });
    return;
  }
  const verdict = actions.gate.check(request);
  if (!verdict.ok) {
    sendJson(send, verdict.status, { error: `refused (${verdict.reason})` });
    return;
  }
  const text = await readBody(request, MAX_ACTION_BODY_BYTES);
  if (text === undefined) {
    sendJson(send, 413, { error: 'body too large' });
    return;
  }
  let action: ConsoleAction;
  try {
    action = parseConsoleAction(path, text);
  } catch (error) {
    if (!(error instanceof ActionRequestError)) throw error;
    sendJson(send, 400, { error: error.message });
    return;
  }
  try {
    sendJson(send, 200, await actions.run(action));
  } catch (error) {
    if (!actions.isUnknownTarget(error)) throw error;
    sendJson(send, 404, { error: errorMessage(error) });
  }
}

/**
 * POST /api/attach-link: the link carries an invite, so the AdminGate (same origin, JSON, the
 * admin token) comes first, exactly as for the console's actions; a GET gets nothing.
 */
async function handleAttachLink(
  source: AttachLinkSource | undefined,
  request: http.IncomingMessage,
  send: Send,
): Promise<void> {
  if (!source) {
    sendJson(send, 404, { error: 'no attach link is configured (MON_ATTACH_LINK_FILE)' });
    return;
  }
  const verdict = source.gate.check(request);
  if (!verdict.ok) {
    sendJson(send, verdict.status, { error: `refused (${verdict.reason})` });
    return;
  }
  if ((await readBody(request, MAX_ACTION_BODY_BYTES)) === undefined) {
    sendJson(send, 413, { error: 'body too large' });
    return;
  }
  try {
    sendJson(send, 200, source.read());
  } catch (error) {
    if (!(error instanceof AttachLinkFileError)) throw error;
    sendJson(send, 503, { error: error.message });
  }
}

export interface MonitorHttpServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * `/` the dashboard, `/api/dashboard` its JSON, `/metrics` Prometheus (GET and HEAD), and the
 * console's actions at `POST /api/console/ask|order` and the attach link at
 * `POST /api/attach-link`, both behind the AdminGate. Nothing changes on GET.
 */
export async function startMonitorHttpServer(
  sources: MonitorHttpSources,
  options: { host: string; port: number },
): Promise<MonitorHttpServer> {
  const server = http.createServer((request, response) => {
    const send: Send = (status, type, body) => {
      if (response.headersSent) return;
      response.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        ...(type.startsWith('text/html') ? { 'content-security-policy': DASHBOARD_CSP } : {}),
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (!hostAllowed(request, options.host)) {
      send(403, 'text/plain; charset=utf-8', 'unexpected Host header\n');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://monitor').pathname;
    if (path === ATTACH_LINK_PATH) {
      handleAttachLink(sources.attachLink, request, send).catch((error: unknown) => {
        sendJson(send, 500, { error: errorMessage(error) });
      });
      return;
    }
    if (ACTION_PATHS.has(path)) {
      handleAction(sources.actions, path, request, send).catch((error: unknown) => {
        sendJson(send, 500, { error: errorMessage(error) });
      });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    try {
      if (path === '/' || path === '/index.html')
        send(200, 'text/html; charset=utf-8', DASHBOARD_HTML);
      else if (path === '/api/dashboard')
        send(
          200,
          'application/json',
          // Whether to offer the attach link section; the link itself only at ATTACH_LINK_PATH.
          JSON.stringify({ ...sources.snapshot(), attachLink: sources.attachLink !== undefined }),
        );
      else if (path === '/metrics')
        send(200, PROMETHEUS_CONTENT_TYPE, formatPrometheus(sources.families()));
      else send(404, 'text/plain; charset=utf-8', 'not found\n');
    } catch (error) {
      send(500, 'text/plain; charset=utf-8', `${errorMessage(error)}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${hostForUrl}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
