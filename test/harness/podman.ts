import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { JOB_IMAGE, ensureDocker, ensureJobImage } from './docker';
import { runCommand, startProcess, type ServiceProcess } from './processes';
import { until } from './until';

export interface PodmanServer {
  /** The Docker-compatible API's socket: `<runtimeDir>/podman/podman.sock`. */
  readonly socketPath: string;
  /** `unix://<socketPath>`, for DOCKER_HOST. */
  readonly dockerHost: string;
  /** An XDG_RUNTIME_DIR under which the socket sits where rootless Podman puts it. */
  readonly runtimeDir: string;
  /** A dockerode client of this Podman. */
  readonly docker: Docker;
  readonly process: ServiceProcess;
  /** `podman --root … --runroot …` with these arguments, on this server's storage. */
  podman(args: readonly string[]): Promise<string>;
  /** Copies an image from the machine's Docker into this Podman (docker save | podman load). */
  loadFromDocker(image?: string): Promise<void>;
  /** Removes every container, stops the service and deletes its storage. */
  stop(): Promise<void>;
}

/**
 * Starts Podman's Docker-compatible API as a private server: `podman system service --time=0
 * unix://<dir>/run/podman/podman.sock` with its own --root, --runroot and --tmpdir under a temp
 * dir (storage driver vfs, like the harness's dockerd), so it shares nothing with another Podman
 * on the machine. As root here; its log goes to test-artifacts/logs/podman-<pid>.log.
 */
export async function startPodman(
  options: {
    readyTimeoutMs?: number;
    /** Where the socket goes (`<runtimeDir>/podman/podman.sock`); default under the temp dir. */
    runtimeDir?: string;
    /**
     * Registries (`host:port`) Podman may speak plain HTTP to, such as the harness's loopback
     * registry: Podman, unlike dockerd, insists on TLS for 127.0.0.1 too unless registries.conf
     * marks the registry insecure. Written to this server's own registries.conf
     * (CONTAINERS_REGISTRIES_CONF), which replaces the machine's.
     */
    insecureRegistries?: readonly string[];
  } = {},
): Promise<PodmanServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-podman-'));
  const runtimeDir = options.runtimeDir ?? path.join(dir, 'run');
  const socketPath = path.join(runtimeDir, 'podman', 'podman.sock');
  for (const sub of ['root', 'runroot', 'tmp']) {
    fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  }
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  const storage = [
    '--root',
    path.join(dir, 'root'),
    '--runroot',
    path.join(dir, 'runroot'),
    '--tmpdir',
    path.join(dir, 'tmp'),
    '--storage-driver',
    'vfs',
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtimeDir };
  if (options.insecureRegistries !== undefined) {
    env.CONTAINERS_REGISTRIES_CONF = path.join(dir, 'registries.conf');
    fs.writeFileSync(
      env.CONTAINERS_REGISTRIES_CONF,
      options.insecureRegistries
        .map((host) => `[[registry]]\nlocation = "${host}"\ninsecure = true\n`)
        .join('\n'),
    );
  }
  const docker = new Docker({ socketPath });
  let service: ServiceProcess;
  try {
    service = await startProcess({
      name: 'podman',
      command: 'podman',
      args: [...storage, 'system', 'service', '--time=0', `unix://${socketPath}`],
      env,
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      ready: async () => {
        await until(
          'podman answers /_ping',
          async () => {
            try {
              await docker.ping();
              return true;
            } catch {
              return false;
            }
          },
          options.readyTimeoutMs ?? 30_000,
        );
      },
    });
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const podman = async (args: readonly string[]): Promise<string> =>
    (await runCommand('podman', [...storage, ...args], { env, timeoutMs: 180_000 })).stdout;

  return {
    socketPath,
    dockerHost: `unix://${socketPath}`,
    runtimeDir,
    docker,
    process: service,
    podman,
    async loadFromDocker(image = JOB_IMAGE) {
      const source = await ensureDocker();
      if (image === JOB_IMAGE) await ensureJobImage(source);
      const archive = path.join(dir, 'image.tar');
      const tar = await source.getImage(image).get();
      await new Promise<void>((resolve, reject) => {
        const file = fs.createWriteStream(archive);
        tar.on('error', reject);
        file.on('error', reject);
        file.on('finish', () => resolve());
        tar.pipe(file);
      });
      await podman(['load', '--input', archive]);
      fs.rmSync(archive, { force: true });
    },
    async stop() {
      if (service.isRunning()) {
        await podman(['rm', '--all', '--force']).catch(() => undefined);
      }
      await service.stop();
      // Storage left mounted (a container's shm) would make the removal fail: unmount first.
      const mounts = fs
        .readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((line) => line.split(' ')[4] ?? '')
        .filter((mount) => mount.startsWith(dir + path.sep))
        .sort((a, b) => b.length - a.length);
      for (const mount of mounts) {
        await runCommand('umount', ['-l', mount]).catch(() => undefined);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
