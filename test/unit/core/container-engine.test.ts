import { describe, expect, it } from 'vitest';
import {
  ContainerEngine,
  discoverEngines,
  endpointUrl,
  engineName,
  locateEngine,
  type AskVersion,
  type DiscoveryHost,
  type EngineCandidate,
  type EngineVersion,
} from '@copilot/core/container-engine';

function host(overrides: Partial<DiscoveryHost> = {}): DiscoveryHost {
  return {
    env: {},
    platform: 'linux',
    homeDir: '/home/vol',
    uid: 1000,
    readFile: (file) => {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${file}'`), {
        code: 'ENOENT',
      });
    },
    ...overrides,
  };
}

/** Each candidate as DOCKER_HOST would write it, with its source. */
function places(h: DiscoveryHost): string[] {
  return discoverEngines(h).candidates.map((c) => `${endpointUrl(c.endpoint)} ${c.source}`);
}

const DOCKER_VERSION: EngineVersion = {
  Version: '20.10.24',
  Platform: { Name: '' },
  Components: [{ Name: 'Engine', Version: '20.10.24' }],
};
/** What `podman system service` 4.3 answers to GET /version (trimmed). */
const PODMAN_VERSION: EngineVersion = {
  Platform: { Name: 'linux/amd64/debian-12' },
  Components: [
    { Name: 'Podman Engine', Version: '4.3.1' },
    { Name: 'Conmon', Version: 'conmon version 2.1.6' },
  ],
  Version: '4.3.1',
  ApiVersion: '1.41',
};

function enoent(path: string): Error {
  return Object.assign(new Error(`connect ENOENT ${path}`), { code: 'ENOENT', syscall: 'connect' });
}

/** Answers with the version for the endpoints in `up`, and ENOENT elsewhere. */
function asker(up: Record<string, EngineVersion>, asked: string[] = []): AskVersion {
  return (endpoint) => {
    const url = endpointUrl(endpoint);
    asked.push(url);
    const answer = up[url];
    return answer ? Promise.resolve(answer) : Promise.reject(enoent(url));
  };
}

describe('discoverEngines: where the engine may be', () => {
  it("Linux: the user's rootless Docker and Podman, then the system's Docker and Podman", () => {
    expect(places(host({ env: { XDG_RUNTIME_DIR: '/run/user/1000' } }))).toEqual([
      'unix:///run/user/1000/docker.sock rootless Docker',
      'unix:///run/user/1000/podman/podman.sock rootless Podman',
      'unix:///var/run/docker.sock Docker',
      'unix:///run/podman/podman.sock Podman',
    ]);
    // No XDG_RUNTIME_DIR: the user's runtime dir by uid; root has no rootless engines.
    expect(places(host({ uid: 1001 }))[0]).toBe(
      'unix:///run/user/1001/docker.sock rootless Docker',
    );
    expect(places(host({ uid: 0 }))).toEqual([
      'unix:///var/run/docker.sock Docker',
      'unix:///run/podman/podman.sock Podman',
    ]);
    // Podman's remote variable first (unix:// only).
    expect(places(host({ env: { CONTAINER_HOST: 'unix:///srv/p.sock' }, uid: 0 }))[0]).toBe(
      'unix:///srv/p.sock CONTAINER_HOST',
    );
  });

  it("Windows: Docker Desktop's named pipe, then Podman machine's", () => {
    expect(places(host({ platform: 'win32', uid: undefined, homeDir: 'C:\\Users\\vol' }))).toEqual([
      'npipe:////./pipe/docker_engine Docker Desktop',
      'npipe:////./pipe/podman-machine-default Podman machine',
    ]);
  });

  it('macOS: Docker Desktop in the home dir, then /var/run/docker.sock, then the others', () => {
    const mac = places(host({ platform: 'darwin', homeDir: '/Users/vol', uid: 501 }));
    expect(mac.slice(0, 3)).toEqual([
      'unix:///Users/vol/.docker/run/docker.sock Docker Desktop',
      'unix:///var/run/docker.sock Docker Desktop (system socket)',
      'unix:///tmp/podman/podman-machine-default-api.sock Podman machine',
    ]);
    expect(mac).toContain(
      'unix:///Users/vol/.local/share/containers/podman/machine/podman.sock Podman machine',
    );
    expect(mac).toContain('unix:///Users/vol/.colima/default/docker.sock Colima');
  });

  it('DOCKER_HOST unix:// and npipe:// are the only place asked', () => {
    expect(places(host({ env: { DOCKER_HOST: 'unix:///tmp/x/podman.sock' } }))).toEqual([
      'unix:///tmp/x/podman.sock DOCKER_HOST',
    ]);
    expect(
      places(host({ platform: 'win32', env: { DOCKER_HOST: 'npipe:////./pipe/podman-machine' } })),
    ).toEqual(['npipe:////./pipe/podman-machine DOCKER_HOST']);
  });

  it('DOCKER_HOST tcp://: plain, and with DOCKER_TLS_VERIFY the certificates of DOCKER_CERT_PATH', () => {
    const plain = discoverEngines(host({ env: { DOCKER_HOST: 'tcp://10.0.0.5' } }));
    expect(plain.candidates[0]?.endpoint).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2375 });
    const read: string[] = [];
    const tls = discoverEngines(
      host({
        env: {
          DOCKER_HOST: 'tcp://docker.example.org:12376',
          DOCKER_TLS_VERIFY: '1',
          DOCKER_CERT_PATH: '/etc/certs',
        },
        readFile: (file) => {
          read.push(file);
          return `PEM of ${file}`;
        },
      }),
    );
    expect(tls.unsupported).toBeUndefined();
    expect(tls.candidates[0]?.endpoint).toEqual({
      kind: 'tcp',
      host: 'docker.example.org',
      port: 12376,
      tls: {
        ca: 'PEM of /etc/certs/ca.pem',
        cert: 'PEM of /etc/certs/cert.pem',
        key: 'PEM of /etc/certs/key.pem',
      },
    });
    // TLS without a port is 2376; the certificates default to ~/.docker.
    const defaults = discoverEngines(
      host({
        env: { DOCKER_HOST: 'tcp://[::1]', DOCKER_TLS_VERIFY: '1' },
        readFile: (file) => file,
      }),
    );
    expect(defaults.candidates[0]?.endpoint).toMatchObject({
      host: '::1',
      port: 2376,
      tls: { ca: '/home/vol/.docker/ca.pem' },
    });
  });

  it('says clearly what it cannot use instead of looking elsewhere', () => {
    const ssh = discoverEngines(host({ env: { DOCKER_HOST: 'ssh://me@build.example.org' } }));
    expect(ssh.candidates).toEqual([]);
    expect(ssh.unsupported).toMatch(/over ssh/);
    expect(ssh.unsupported).toMatch(/ssh -nNT -L \/tmp\/docker.sock:\/var\/run\/docker.sock/);
    expect(discoverEngines(host({ env: { DOCKER_HOST: 'fd://' } })).unsupported).toMatch(
      /DOCKER_HOST=fd:\/\/ is not supported: use unix:\/\/, npipe:\/\/ or tcp:\/\//,
    );
    expect(
      discoverEngines(host({ env: { DOCKER_HOST: '/var/run/docker.sock' } })).unsupported,
    ).toMatch(/not supported/);
    const missing = discoverEngines(
      host({ env: { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1' } }),
    );
    expect(missing.unsupported).toMatch(
      /DOCKER_TLS_VERIFY is set but \/home\/vol\/.docker\/ca.pem cannot be read \(ENOENT/,
    );
  });
});

describe('which engine answered', () => {
  it('Podman names itself in Components; anything else is Docker', () => {
    expect(engineName(PODMAN_VERSION)).toBe('podman');
    expect(engineName(DOCKER_VERSION)).toBe('docker');
    expect(engineName({ Platform: { Name: 'Docker Engine - Community' } })).toBe('docker');
    expect(engineName({})).toBe('docker');
  });
});

describe('locateEngine', () => {
  const candidates: EngineCandidate[] = discoverEngines(
    host({ env: { XDG_RUNTIME_DIR: '/run/user/1000' } }),
  ).candidates;

  it('asks every place at once; the first in order that answers wins, whatever answers faster', async () => {
    let releaseDocker: (version: EngineVersion) => void = () => undefined;
    const asked: string[] = [];
    const ask: AskVersion = (endpoint) => {
      const url = endpointUrl(endpoint);
      asked.push(url);
      if (url === 'unix:///var/run/docker.sock') {
        return new Promise((resolve) => {
          releaseDocker = resolve;
        });
      }
      if (url === 'unix:///run/podman/podman.sock') return Promise.resolve(PODMAN_VERSION);
      return Promise.reject(enoent(url));
    };
    const located = locateEngine(candidates, ask, 1000);
    await Promise.resolve();
    expect(asked).toHaveLength(4);
    releaseDocker(DOCKER_VERSION);
    const result = await located;
    expect(result.found).toMatchObject({
      name: 'docker',
      version: '20.10.24',
      source: 'Docker',
      endpoint: { kind: 'socket', path: '/var/run/docker.sock' },
    });
    expect(result.tried).toEqual([
      'unix:///run/user/1000/docker.sock: no socket',
      'unix:///run/user/1000/podman/podman.sock: no socket',
    ]);
  });

  it('finds Podman when no Docker answers, and says why each place did not', async () => {
    const ask: AskVersion = (endpoint) => {
      const url = endpointUrl(endpoint);
      if (url === 'unix:///run/user/1000/podman/podman.sock')
        return Promise.resolve(PODMAN_VERSION);
      if (url === 'unix:///var/run/docker.sock') {
        return Promise.reject(Object.assign(new Error('connect EACCES'), { code: 'EACCES' }));
      }
      if (url === 'unix:///run/podman/podman.sock') return Promise.reject(new Error('no answer'));
      return Promise.reject(
        Object.assign(new Error('Docker is not reachable'), {
          cause: { code: 'ECONNREFUSED' },
        }),
      );
    };
    const result = await locateEngine(candidates, ask, 1000);
    expect(result.found).toMatchObject({
      name: 'podman',
      version: '4.3.1',
      source: 'rootless Podman',
    });
    expect(result.tried).toEqual([
      'unix:///run/user/1000/docker.sock: refused',
      'unix:///var/run/docker.sock: permission denied (is this user in the docker group?)',
      'unix:///run/podman/podman.sock: no answer',
    ]);
  });

  it('asks the engine found last time alone first', async () => {
    const asked: string[] = [];
    const first = candidates[1] as EngineCandidate;
    const result = await locateEngine(
      candidates,
      asker({ [endpointUrl(first.endpoint)]: PODMAN_VERSION }, asked),
      1000,
      first,
    );
    expect(asked).toEqual(['unix:///run/user/1000/podman/podman.sock']);
    expect(result).toEqual({ found: expect.objectContaining({ name: 'podman' }), tried: [] });
  });
});

describe('ContainerEngine', () => {
  it('reports the engine and where it answered, remembers it, and looks again when it goes', async () => {
    const up: Record<string, EngineVersion> = { 'unix:///var/run/docker.sock': DOCKER_VERSION };
    const asked: string[] = [];
    const engine = new ContainerEngine(
      discoverEngines(host({ uid: 0 })),
      asker(up, asked),
      'linux',
    );
    expect(engine.current).toBeUndefined();
    expect(await engine.locate()).toEqual({
      available: true,
      message: 'Docker 20.10.24',
      version: '20.10.24',
      engine: 'docker',
      endpoint: 'unix:///var/run/docker.sock',
    });
    asked.length = 0;
    await engine.locate();
    expect(asked).toEqual(['unix:///var/run/docker.sock']);

    // Docker is removed and Podman started: the next probe finds Podman.
    delete up['unix:///var/run/docker.sock'];
    up['unix:///run/podman/podman.sock'] = PODMAN_VERSION;
    expect(await engine.locate()).toMatchObject({
      available: true,
      message: 'Podman 4.3.1',
      engine: 'podman',
      endpoint: 'unix:///run/podman/podman.sock',
    });
    expect(engine.current?.name).toBe('podman');

    delete up['unix:///run/podman/podman.sock'];
    expect(await engine.locate()).toEqual({
      available: false,
      message: 'No container engine (Docker or Podman) answers on this computer',
      tried: [
        'unix:///var/run/docker.sock: no socket',
        'unix:///run/podman/podman.sock: no socket',
      ],
      hostPlatform: 'linux',
    });
    expect(engine.current).toBeUndefined();
  });

  it('names DOCKER_HOST when it is the place that does not answer, and an unusable one without asking', async () => {
    const asked: string[] = [];
    const one = new ContainerEngine(
      discoverEngines(host({ env: { DOCKER_HOST: 'unix:///tmp/none.sock' } })),
      asker({}, asked),
      'linux',
    );
    expect((await one.locate()).message).toBe(
      'No container engine answers at DOCKER_HOST (unix:///tmp/none.sock)',
    );
    asked.length = 0;
    const ssh = new ContainerEngine(
      discoverEngines(host({ env: { DOCKER_HOST: 'ssh://h' } })),
      asker({}, asked),
      'darwin',
    );
    const state = await ssh.locate();
    expect(state).toMatchObject({ available: false, tried: [], hostPlatform: 'darwin' });
    expect(state.message).toMatch(/^DOCKER_HOST=ssh:\/\/h: Co-Pilot does not speak/);
    expect(asked).toEqual([]);
  });
});
