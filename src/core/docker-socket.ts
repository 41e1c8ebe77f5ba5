/**
 * The two questions the agent asks Docker while idle (is it there, which containers are ours),
 * asked over its unix socket with node:http. dockerode, with the ssh2, gRPC and protobuf code
 * it pulls in, is then loaded only when a job comes: about 29 MiB less for an idle agent.
 *
 * Docker's connection failures are classified here, where they enter (`dockerFailure`): the rest
 * of the agent asks `instanceof DockerUnavailableError`, never the message text.
 */
import http from 'node:http';
import { CopilotError, errorMessage, formatError } from '../base/errors';

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

/** The daemon's unix socket, or undefined when DOCKER_HOST names another kind of address. */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const host = env.DOCKER_HOST;
  if (host === undefined || host === '') return '/var/run/docker.sock';
  return host.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
}

/** GET a JSON document from the Docker API over its socket. */
export function dockerSocketGet<T>(
  socketPath: string,
  path: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const request = http.get({ socketPath, path, timeout: timeoutMs }, (response) => {
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
