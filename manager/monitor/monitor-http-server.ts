import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DASHBOARD_HTML } from './dashboard-page';
import type { DashboardSnapshot } from './dashboard-state';
import {
  formatPrometheus,
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusFamily,
} from './prometheus-format';
import { errorMessage } from '@copilot/base/errors';

export interface MonitorHttpSources {
  snapshot: () => DashboardSnapshot;
  families: () => PrometheusFamily[];
}

export interface MonitorHttpServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** `/` the dashboard, `/api/dashboard` its JSON, `/metrics` Prometheus; GET and HEAD only. */
export async function startMonitorHttpServer(
  sources: MonitorHttpSources,
  options: { host: string; port: number },
): Promise<MonitorHttpServer> {
  const server = http.createServer((request, response) => {
    const send = (status: number, type: string, body: string): void => {
      response.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://monitor').pathname;
    try {
      if (path === '/' || path === '/index.html')
        send(200, 'text/html; charset=utf-8', DASHBOARD_HTML);
      else if (path === '/api/dashboard')
        send(200, 'application/json', JSON.stringify(sources.snapshot()));
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
