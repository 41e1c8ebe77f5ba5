/**
 * The two questions the agent asks Docker while idle (is it there, which containers are ours),
 * asked over its unix socket with node:http. dockerode, with the ssh2, gRPC and protobuf code
 * it pulls in, is then loaded only when a job comes: about 29 MiB less for an idle agent.
 *
 * Docker's connection failures are classified here, where they enter (`dockerFailure`): the rest
 * of the agent asks `instanceof DockerUnavailableError`, never the message text.
 *
 * The engine is Docker or Podman wherever container-engine.ts finds it: a unix socket or a
 * Windows named pipe (node:http's socketPath), or TCP with TLS (node:https).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import { CopilotError, errorMessage, formatError } from '../base/errors';
import { ContainerEngine, discoverEngines, type EngineEndpoint } from './container-engine';

/**
 * The Docker daemon does not answer (refused, no socket, connection reset or hung up): not the
 * job's fault. The job waits until Docker is back.
 */
export class DockerUnavailableError extends CopilotError {
  declare readonly code: 'DOCKER_UNAVAILABLE';
  /** What the connection said, e.g. `connect ECONNREFUSED /var/run/docker.sock`. */
  readonly detail: string;

  constructor(detail: string, options?: { cause?: unknown }) {
    super('DOCKER_UNAVAILABLE', formatError('DOCKER_UNAVAILABLE', detail), options);
    this.name = 'DockerUnavailableError';
    this.detail = detail;
  }
}

/** Error codes of a connection to the daemon that mean it is not there (ECONNRESET: hung up). */
const DAEMON_GONE: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * An error from node:http or dockerode, classified: a DockerUnavailableError when the daemon's
 * socket refused, reset, broke or does not exist; anything else (a 404, a bad image) unchanged.
 */
export function dockerFailure(error: unknown): unknown {
  if (typeof error !== 'object' || error === null || error instanceof DockerUnavailableError) {
    return error;
  }
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  const gone =
    (typeof code === 'string' && DAEMON_GONE.has(code)) ||
    (code === 'ENOENT' && syscall === 'connect');
  return gone ? new DockerUnavailableError(errorMessage(error), { cause: error }) : error;
}

/** The HTTP request options that reach `endpoint` (node:http for sockets and plain TCP). */
function requestOptions(endpoint: EngineEndpoint): http.RequestOptions & https.RequestOptions {
  if (endpoint.kind === 'socket') return { socketPath: endpoint.path };
  const options: https.RequestOptions = { host: endpoint.host, port: endpoint.port };
  if (endpoint.tls) Object.assign(options, endpoint.tls);
  return options;
}

/** GET a JSON document from the engine's API (Docker's, or Podman's Docker-compatible one). */
export function engineGet<T>(
  endpoint: EngineEndpoint,
  path: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const client = endpoint.kind === 'tcp' && endpoint.tls ? https : http;
    const options = { ...requestOptions(endpoint), path, timeout: timeoutMs };
    const request = client.get(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) {
          reject(
            new Error(`Docker answered ${response.statusCode ?? 0} to ${path}: ${body.trim()}`),
          );
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch {
          reject(new Error(`Docker sent unreadable JSON for ${path}`));
        }
      });
      response.on('error', (error) => reject(dockerFailure(error)));
    });
    request.on('timeout', () => request.destroy(new Error('no answer')));
    request.on('error', (error) => reject(dockerFailure(error)));
  });
}

/** GET a JSON document from the Docker API over its unix socket. */
export function dockerSocketGet<T>(
  socketPath: string,
  path: string,
  timeoutMs: number,
): Promise<T> {
  return engineGet<T>({ kind: 'socket', path: socketPath }, path, timeoutMs);
}

/** dockerode's constructor options for `endpoint`. */
export function dockerodeOptions(endpoint: EngineEndpoint): {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  ca?: string;
  cert?: string;
  key?: string;
} {
  if (endpoint.kind === 'socket') return { socketPath: endpoint.path };
  const { host, port, tls } = endpoint;
  return tls ? { host, port, protocol: 'https', ...tls } : { host, port, protocol: 'http' };
}

/** The container engine of this computer, looked for as container-engine.ts says. */
export function hostContainerEngine(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ContainerEngine {
  const discovery = discoverEngines({
    env,
    platform: process.platform,
    homeDir: os.homedir(),
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
    readFile: (file) => fs.readFileSync(file, 'utf8'),
  });
  return new ContainerEngine(
    discovery,
    (endpoint, timeoutMs) => engineGet(endpoint, '/version', timeoutMs),
    process.platform,
  );
}
