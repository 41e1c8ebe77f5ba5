// A private container registry for the job-image tests: Debian's `docker-registry` (Docker
// Distribution 2.x) with its own config and storage dir on a free loopback port. dockerd speaks
// plain HTTP to registries on 127.0.0.0/8 (insecure by default), so no TLS is needed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { runCommand, startProcess, type ServiceProcess } from './processes';

export interface RegistryServer {
  /** `127.0.0.1:<port>`: the registry part of an image reference. */
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Where the registry keeps its blobs and manifests (deleted on stop). */
  readonly storageDir: string;
  readonly process: ServiceProcess;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Default 20 s. */
  readyTimeoutMs?: number;
}

/** Starts `docker-registry serve` on a free 127.0.0.1 port with a fresh storage dir. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-registry-'));
  const storageDir = path.join(root, 'storage');
  fs.mkdirSync(storageDir);
  const port = await freePort();
  const config = path.join(root, 'config.yml');
  fs.writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storageDir}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${crypto.randomBytes(16).toString('hex')}`,
      '',
    ].join('\n'),
  );
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const proc = await startProcess({
    name: 'docker-registry',
    command: 'docker-registry',
    args: ['serve', config],
    cwd: root,
    readyTimeoutMs,
    ready: async (_proc, signal) => {
      await waitForPort(port, '127.0.0.1', readyTimeoutMs, { signal });
      const response = await fetch(`http://127.0.0.1:${port}/v2/`, { signal });
      if (response.status !== 200) throw new Error(`/v2/ answered ${response.status}`);
    },
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `http://127.0.0.1:${port}`,
    storageDir,
    process: proc,
    async stop() {
      await proc.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Pushes the local image `localImage` to the registry as `repository:tag` (docker CLI) and
 * returns its reference pinned by digest: `127.0.0.1:<port>/<repository>@sha256:…`. The local
 * tag made for the push is removed again, so that only a pull brings the image back under that
 * name.
 */
export async function pushImage(
  registry: RegistryServer,
  localImage: string,
  repository: string,
  tag = 'latest',
): Promise<string> {
  const target = `${registry.host}/${repository}:${tag}`;
  await runCommand('docker', ['tag', localImage, target]);
  try {
    const { stdout } = await runCommand('docker', ['push', target], { timeoutMs: 300_000 });
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(stdout)?.[1];
    if (digest === undefined) throw new Error(`docker push printed no digest:\n${stdout}`);
    return `${registry.host}/${repository}@${digest}`;
  } finally {
    await runCommand('docker', ['rmi', target]).catch(() => undefined);
  }
}

/** Removes every local reference to a pushed image (`repo@sha256:…`), so the next use pulls it. */
export async function removeLocalImage(reference: string): Promise<void> {
  await runCommand('docker', ['rmi', reference]).catch(() => undefined);
}
