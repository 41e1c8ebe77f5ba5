import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { startProcess } from './processes';
import type { ServiceProcess } from './processes';

export interface ChirpOptions {
  /**
   * The root directory's ACL, one `<subject> <rights>` per line. Default: only the owner (the
   * test process, `unix:<user>`) with `rwlda`, as chirp_server itself would write it. New
   * directories copy their parent's ACL.
   */
  rootAcl?: readonly string[];
  /** Extra chirp_server arguments. */
  extraArgs?: string[];
  /** Default 15 s. */
  readyTimeoutMs?: number;
}

export interface ChirpServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:<port>`: a `chirpUrl` as the report writes it. */
  readonly address: string;
  /** The exported directory on disk (`-r`). */
  readonly rootDir: string;
  /** The ACL subject of the test process with `unix` authentication, e.g. `unix:root`. */
  readonly ownerSubject: string;
  readonly process: ServiceProcess;
  /** SIGTERM (SIGKILL after 5 s); deletes the temp dir. */
  stop(): Promise<void>;
}

/** uid and gid of `nobody`, whom chirp_server must drop to when started as root (`-i`). */
function nobody(): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('nobody:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('no user nobody in /etc/passwd');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Starts a private chirp_server (Debian's coop-computing-tools) on a free 127.0.0.1 port with a
 * temp root, as report listing 4.1 does (`-i <user> -u - -r <dir>`), adapted: it listens on
 * loopback only and reports to no catalog. All of chirp_server's authentication methods stay on
 * (unix, hostname, address, …); what a subject may do is the ACL's business.
 */
export async function startChirp(options: ChirpOptions = {}): Promise<ChirpServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-chirp-'));
  const rootDir = path.join(dir, 'root');
  const transientDir = path.join(dir, 'transient');
  fs.mkdirSync(rootDir);
  fs.mkdirSync(transientDir);
  const ownerSubject = `unix:${os.userInfo().username}`;
  const acl = options.rootAcl ?? [`${ownerSubject} rwlda`];
  fs.writeFileSync(path.join(rootDir, '.__acl'), acl.map((line) => `${line}\n`).join(''));

  const dropPrivileges: string[] = [];
  if (process.getuid?.() === 0) {
    // chirp_server refuses to run as root without a user to drop to; it owns the files then.
    const { uid, gid } = nobody();
    fs.chmodSync(dir, 0o755); // mkdtemp's 0700 would keep nobody out of the root below it
    for (const target of [rootDir, transientDir, path.join(rootDir, '.__acl')]) {
      fs.chownSync(target, uid, gid);
    }
    dropPrivileges.push('-i', 'nobody');
  }

  const port = await freePort();
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const args = [
    ...dropPrivileges,
    '-u',
    '-',
    '-r',
    rootDir,
    '-y',
    transientDir,
    '-I',
    '127.0.0.1',
    '-p',
    String(port),
    '-E',
    '-d',
    'chirp',
    '-d',
    'auth',
    '-d',
    'login',
    '-o',
    ':stderr',
    ...(options.extraArgs ?? []),
  ];
  let proc: ServiceProcess;
  try {
    proc = await startProcess({
      name: 'chirp',
      command: 'chirp_server',
      args,
      cwd: dir,
      readyTimeoutMs,
      ready: (_proc, signal) => waitForPort(port, '127.0.0.1', readyTimeoutMs, { signal }),
    });
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    rootDir,
    ownerSubject,
    process: proc,
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
