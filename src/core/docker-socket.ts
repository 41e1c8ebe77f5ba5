/**
 * The two questions the agent asks Docker while idle (is it there, which containers are ours),
 * asked over its unix socket with node:http. dockerode, with the ssh2, gRPC and protobuf code
 * it pulls in, is then loaded only when a job comes: about 29 MiB less for an idle agent.
 */
import http from 'node:http';

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
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('no answer')));
    request.on('error', reject);
  });
}
