/**
 * Where the container engine is: Docker or Podman (its Docker-compatible API), found where each
 * installs itself, like the docker CLI and BOINC's Docker detection do.
 *
 * - `DOCKER_HOST`, when set, is the only place asked (the volunteer said where): `unix://`,
 *   `npipe://`, `tcp://` (TLS with `DOCKER_TLS_VERIFY` and the certificates in
 *   `DOCKER_CERT_PATH`, default `~/.docker`); `ssh://` and `fd://` are said to be unsupported.
 * - Otherwise, by OS, in this order: Windows: Docker Desktop's pipe `//./pipe/docker_engine`,
 *   Podman machine's `//./pipe/podman-machine-default`. macOS: Docker Desktop's
 *   `~/.docker/run/docker.sock`, `/var/run/docker.sock`, Podman machine's sockets, Colima,
 *   OrbStack, Rancher Desktop. Linux: the user's own engines first, rootless Docker
 *   `$XDG_RUNTIME_DIR/docker.sock` and rootless Podman `$XDG_RUNTIME_DIR/podman/podman.sock`
 *   (`/run/user/<uid>` when XDG_RUNTIME_DIR is unset), then the system's, `/var/run/docker.sock`
 *   and rootful Podman `/run/podman/podman.sock`; `CONTAINER_HOST` (Podman's remote variable,
 *   unix:// only) before all of them.
 * - Every place is asked `GET /version` at once; the first in that order that answers wins, and
 *   its answer says which engine it is (Podman names itself in `Components` and `Platform`).
 *
 * The discovery is pure (env, platform, home, uid and file reads are given); `ContainerEngine`
 * keeps the engine found and asks the one it knows first.
 */
import type { ContainerEngineName, DockerState } from '../contract/ui-contract';
import { errorMessage } from '../base/errors';

/** A unix socket or a Windows named pipe (node:http's socketPath), or TCP (TLS when given). */
export type EngineEndpoint =
  | { kind: 'socket'; path: string }
  | {
      kind: 'tcp';
      host: string;
      port: number;
      tls?: { ca: string; cert: string; key: string };
    };

export interface EngineCandidate {
  endpoint: EngineEndpoint;
  /** Which installation puts an engine there, e.g. "rootless Podman". */
  source: string;
}

export interface EngineDiscovery {
  candidates: EngineCandidate[];
  /** DOCKER_HOST names something the agent cannot use; said instead of looking elsewhere. */
  unsupported?: string;
}

export interface DiscoveryHost {
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  homeDir: string;
  /** process.getuid(); undefined on Windows. For /run/user/<uid> when XDG_RUNTIME_DIR is unset. */
  uid: number | undefined;
  /** Reads a certificate file (utf8); throws when it cannot. */
  readFile(path: string): string;
}

export const DOCKER_DESKTOP_PIPE = '//./pipe/docker_engine';
export const PODMAN_MACHINE_PIPE = '//./pipe/podman-machine-default';
const DEFAULT_SOCKET = '/var/run/docker.sock';

/** How an endpoint is written in DOCKER_HOST form, for the UI and the log. */
export function endpointUrl(endpoint: EngineEndpoint): string {
  if (endpoint.kind === 'tcp') {
    return `tcp://${endpoint.host}:${endpoint.port}${endpoint.tls ? ' (TLS)' : ''}`;
  }
  return endpoint.path.startsWith('//./pipe/') || endpoint.path.startsWith('\\\\.\\pipe\\')
    ? `npipe://${endpoint.path.replace(/\\/g, '/')}`
    : `unix://${endpoint.path}`;
}

export function sameEndpoint(a: EngineEndpoint, b: EngineEndpoint): boolean {
  return endpointUrl(a) === endpointUrl(b);
}

function joinPosix(dir: string, ...parts: string[]): string {
  return [dir.replace(/\/+$/, ''), ...parts].join('/');
}

function joinHost(platform: NodeJS.Platform, dir: string, name: string): string {
  return platform === 'win32' ? `${dir.replace(/[\\/]+$/, '')}\\${name}` : joinPosix(dir, name);
}

/** tcp://host[:port]; TLS with DOCKER_TLS_VERIFY (the docker CLI's rule), default ports 2376/2375. */
function tcpEndpoint(value: string, host: DiscoveryHost): EngineDiscovery {
  let url: URL;
  try {
    url = new URL(value.replace(/^tcp:/, 'http:'));
  } catch {
    return { candidates: [], unsupported: `DOCKER_HOST=${value} is not a valid address` };
  }
  const verify = (host.env.DOCKER_TLS_VERIFY ?? '') !== '';
  const port = url.port === '' ? (verify ? 2376 : 2375) : Number(url.port);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!verify) {
    return {
      candidates: [{ endpoint: { kind: 'tcp', host: hostname, port }, source: 'DOCKER_HOST' }],
    };
  }
  const certDir = host.env.DOCKER_CERT_PATH || joinHost(host.platform, host.homeDir, '.docker');
  const files: Record<'ca' | 'cert' | 'key', string> = { ca: '', cert: '', key: '' };
  for (const name of ['ca', 'cert', 'key'] as const) {
    const file = joinHost(host.platform, certDir, `${name}.pem`);
    try {
      files[name] = host.readFile(file);
    } catch (error) {
      return {
        candidates: [],
        unsupported: `DOCKER_TLS_VERIFY is set but ${file} cannot be read (${errorMessage(error)}); set DOCKER_CERT_PATH to the directory of ca.pem, cert.pem and key.pem`,
      };
    }
  }
  return {
    candidates: [
      { endpoint: { kind: 'tcp', host: hostname, port, tls: files }, source: 'DOCKER_HOST' },
    ],
  };
}

/** The one place DOCKER_HOST names, or why it cannot be used. */
function fromDockerHost(value: string, host: DiscoveryHost): EngineDiscovery {
  const scheme = /^([a-z0-9+.-]+):\/\//i.exec(value)?.[1]?.toLowerCase();
  const rest = scheme === undefined ? '' : value.slice(scheme.length + 3);
  switch (scheme) {
    case 'unix':
      if (rest === '') break;
      return { candidates: [{ endpoint: { kind: 'socket', path: rest }, source: 'DOCKER_HOST' }] };
    case 'npipe':
      if (rest === '') break;
      return { candidates: [{ endpoint: { kind: 'socket', path: rest }, source: 'DOCKER_HOST' }] };
    case 'tcp':
    case 'http':
    case 'https':
      return tcpEndpoint(value, host);
    case 'ssh':
      return {
        candidates: [],
        unsupported: `DOCKER_HOST=${value}: Co-Pilot does not speak to a container engine over ssh. Forward its socket (ssh -nNT -L /tmp/docker.sock:/var/run/docker.sock ${rest}) and set DOCKER_HOST=unix:///tmp/docker.sock, or unset DOCKER_HOST to use the engine on this computer`,
      };
    default:
      break;
  }
  return {
    candidates: [],
    unsupported: `DOCKER_HOST=${value} is not supported: use unix://, npipe:// or tcp://, or unset it to use the engine on this computer`,
  };
}

/** Where each engine puts its socket on this OS, most usual first (see the header). */
function defaultCandidates(host: DiscoveryHost): EngineCandidate[] {
  const socket = (path: string, source: string): EngineCandidate => ({
    endpoint: { kind: 'socket', path },
    source,
  });
  const { env, homeDir } = host;
  if (host.platform === 'win32') {
    return [
      socket(DOCKER_DESKTOP_PIPE, 'Docker Desktop'),
      socket(PODMAN_MACHINE_PIPE, 'Podman machine'),
    ];
  }
  if (host.platform === 'darwin') {
    const home = (...parts: string[]): string => joinPosix(homeDir, ...parts);
    const podmanTmp = joinPosix(env.TMPDIR || '/tmp', 'podman', 'podman-machine-default-api.sock');
    return [
      socket(home('.docker', 'run', 'docker.sock'), 'Docker Desktop'),
      socket(DEFAULT_SOCKET, 'Docker Desktop (system socket)'),
      socket(podmanTmp, 'Podman machine'),
      socket(
        home('.local', 'share', 'containers', 'podman', 'machine', 'podman.sock'),
        'Podman machine',
      ),
      socket(
        home('.local', 'share', 'containers', 'podman', 'machine', 'qemu', 'podman.sock'),
        'Podman machine',
      ),
      socket(home('.colima', 'default', 'docker.sock'), 'Colima'),
      socket(home('.orbstack', 'run', 'docker.sock'), 'OrbStack'),
      socket(home('.rd', 'docker.sock'), 'Rancher Desktop'),
    ];
  }
  const runtime =
    env.XDG_RUNTIME_DIR ||
    (host.uid !== undefined && host.uid !== 0 ? `/run/user/${host.uid}` : undefined);
  const list: EngineCandidate[] = [];
  const containerHost = env.CONTAINER_HOST ?? '';
  if (containerHost.startsWith('unix://') && containerHost.length > 'unix://'.length) {
    list.push(socket(containerHost.slice('unix://'.length), 'CONTAINER_HOST'));
  }
  // The user's own engines first (they were set up for this user), then the system's.
  if (runtime !== undefined) {
    list.push(socket(joinPosix(runtime, 'docker.sock'), 'rootless Docker'));
    list.push(socket(joinPosix(runtime, 'podman', 'podman.sock'), 'rootless Podman'));
  }
  list.push(socket(DEFAULT_SOCKET, 'Docker'));
  list.push(socket('/run/podman/podman.sock', 'Podman'));
  return list;
}

/** The places to ask, in order (see the header). */
export function discoverEngines(host: DiscoveryHost): EngineDiscovery {
  const dockerHost = host.env.DOCKER_HOST ?? '';
  if (dockerHost !== '') return fromDockerHost(dockerHost, host);
  const seen = new Set<string>();
  const candidates = defaultCandidates(host).filter((candidate) => {
    const key = endpointUrl(candidate.endpoint);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { candidates };
}

/** What GET /version answers (the fields we read). */
export interface EngineVersion {
  Version?: string;
  ApiVersion?: string;
  Platform?: { Name?: string };
  Components?: Array<{ Name?: string; Version?: string }>;
}

/** Docker or Podman, from its /version: Podman says "Podman Engine" in Components. */
export function engineName(version: EngineVersion): ContainerEngineName {
  const names = [
    version.Platform?.Name ?? '',
    ...(version.Components ?? []).map((c) => c.Name ?? ''),
  ];
  return names.some((name) => /podman/i.test(name)) ? 'podman' : 'docker';
}

export const ENGINE_LABEL: Record<ContainerEngineName, string> = {
  docker: 'Docker',
  podman: 'Podman',
};

export interface FoundEngine {
  endpoint: EngineEndpoint;
  source: string;
  name: ContainerEngineName;
  version: string;
}

/** Asks one endpoint for its /version; rejects when nothing answers there. */
export type AskVersion = (endpoint: EngineEndpoint, timeoutMs: number) => Promise<EngineVersion>;

/** Why a place did not answer, shortly: "no socket", "refused", or the error. */
function shortReason(error: unknown): string {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current);
    const { code } = current as { code?: unknown };
    if (code === 'ENOENT') return 'no socket';
    if (code === 'ECONNREFUSED') return 'refused';
    if (code === 'ECONNRESET' || code === 'EPIPE') return 'hung up';
    if (code === 'EACCES') return 'permission denied (is this user in the docker group?)';
    current = (current as { cause?: unknown }).cause;
  }
  return errorMessage(error);
}

export interface LocateResult {
  found?: FoundEngine;
  /** Each place that did not answer: "unix:///var/run/docker.sock: no socket". */
  tried: string[];
}

/**
 * Asks every candidate at once; the first in order that answers wins. `first`, when given, is
 * asked alone before the others (the engine found last time).
 */
export async function locateEngine(
  candidates: readonly EngineCandidate[],
  ask: AskVersion,
  timeoutMs: number,
  first?: EngineCandidate,
): Promise<LocateResult> {
  const failures = new Map<string, string>();
  const attempt = async (candidate: EngineCandidate): Promise<FoundEngine | undefined> => {
    try {
      const version = await ask(candidate.endpoint, timeoutMs);
      return {
        endpoint: candidate.endpoint,
        source: candidate.source,
        name: engineName(version),
        version: version.Version ?? 'unknown',
      };
    } catch (error) {
      failures.set(endpointUrl(candidate.endpoint), shortReason(error));
      return undefined;
    }
  };
  if (first !== undefined) {
    const again = await attempt(first);
    if (again !== undefined) return { found: again, tried: [] };
  }
  const rest = candidates.filter(
    (candidate) => first === undefined || !sameEndpoint(candidate.endpoint, first.endpoint),
  );
  const answers = await Promise.all(rest.map(attempt));
  const found = answers.find((answer) => answer !== undefined);
  // `tried` in the candidates' order, not the order the failures came in.
  const tried: string[] = [];
  for (const candidate of candidates) {
    const url = endpointUrl(candidate.endpoint);
    const reason = failures.get(url);
    if (reason !== undefined) tried.push(`${url}: ${reason}`);
  }
  return found === undefined ? { tried } : { found, tried };
}

/**
 * The engine this agent uses: the places to look (discovered once), the one found, and the
 * DockerState a probe reports. Asking goes through `ask` (docker-socket.ts `engineGet`).
 */
export class ContainerEngine {
  private foundEngine: FoundEngine | undefined;

  constructor(
    private readonly discovery: EngineDiscovery,
    private readonly ask: AskVersion,
    private readonly hostPlatform: string,
  ) {}

  /** The engine that answered the last probe; undefined before one did, or after none did. */
  get current(): FoundEngine | undefined {
    return this.foundEngine;
  }

  get candidates(): readonly EngineCandidate[] {
    return this.discovery.candidates;
  }

  /** Asks the known engine, and when it is gone every place again. */
  async locate(timeoutMs = 5000): Promise<DockerState> {
    if (this.discovery.unsupported !== undefined) {
      return {
        available: false,
        message: this.discovery.unsupported,
        tried: [],
        hostPlatform: this.hostPlatform,
      };
    }
    const previous = this.foundEngine;
    const first = previous && { endpoint: previous.endpoint, source: previous.source };
    const result = await locateEngine(this.discovery.candidates, this.ask, timeoutMs, first);
    this.foundEngine = result.found;
    const found = result.found;
    if (found === undefined) {
      const only =
        this.discovery.candidates.length === 1 ? this.discovery.candidates[0] : undefined;
      return {
        available: false,
        message:
          only?.source === 'DOCKER_HOST'
            ? `No container engine answers at DOCKER_HOST (${endpointUrl(only.endpoint)})`
            : 'No container engine (Docker or Podman) answers on this computer',
        tried: result.tried,
        hostPlatform: this.hostPlatform,
      };
    }
    return {
      available: true,
      message: `${ENGINE_LABEL[found.name]} ${found.version}`,
      version: found.version,
      engine: found.name,
      endpoint: endpointUrl(found.endpoint),
    };
  }
}
