/**
 * The host description sent with want_getJob/getJob, in the format of listing 2.4, plus the
 * volunteer's caps so that a manager can match jobs against what this host will really give.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Systeminformation } from 'systeminformation';
import { jdlExpression, jdlNumber, jdlString, serializeJdl, type JdlRecord } from '../protocol/jdl';
import { containerLimits, type LimitSettings } from './resource-policy';

/** The parts of systeminformation used here, so tests can inject results. */
export interface SystemInfoSource {
  osInfo(): Promise<Pick<Systeminformation.OsData, 'arch' | 'hostname' | 'kernel' | 'platform'>>;
  mem(): Promise<Pick<Systeminformation.MemData, 'total' | 'available' | 'swaptotal' | 'swapfree'>>;
  fsSize(): Promise<Array<Pick<Systeminformation.FsSizeData, 'mount' | 'available'>>>;
  cpu(): Promise<Pick<Systeminformation.CpuData, 'cores'>>;
}

export interface HostFacts {
  /** e.g. "Linux-x86_64" */
  platform: string;
  hostname: string;
  /** Kernel release, e.g. "6.1.0-18-amd64" */
  uname: string;
  memoryMb: number;
  freeMemoryMb: number;
  swapMb: number;
  freeSwapMb: number;
  /** KB free in the file system holding the work dir. */
  localDiskSpaceKb: number;
  cpuCores: number;
}

/** What one job gets (jobCaps), and how many jobs run at once. */
export interface HostCaps {
  cpuCores: number;
  memoryLimitMb: number;
  diskLimitMb: number;
  jobSlots: number;
}

const MB = 1024 * 1024;

/**
 * What one job's container gets, in the JDL's units: read from the same containerLimits the
 * runner applies, so a manager matches a job against exactly what it will be given (whole
 * cores, MB of memory and of disk, each per job).
 */
export function jobCaps(settings: LimitSettings, hostCpuCount: number): HostCaps {
  const limits = containerLimits(settings, hostCpuCount);
  return {
    cpuCores: Math.max(1, Math.floor(limits.nanoCpus / 1e9)),
    memoryLimitMb: Math.floor(limits.memoryBytes / MB),
    diskLimitMb: Math.floor(limits.diskBytes / MB),
    jobSlots: Math.max(1, Math.floor(settings.jobSlots)),
  };
}

const ARCH_NAMES: Readonly<Record<string, string>> = {
  x64: 'x86_64',
  ia32: 'i686',
  arm64: 'aarch64',
  arm: 'armv7l',
};

function capitalise(word: string): string {
  return word.length === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1);
}

function platformName(platform: string, arch: string): string {
  const system = platform === 'darwin' ? 'Darwin' : capitalise(platform);
  return `${system}-${ARCH_NAMES[arch] ?? arch}`;
}

/** The mount whose path is the longest prefix of `dir`. */
function mountOf<T extends { mount: string }>(mounts: readonly T[], dir: string): T | undefined {
  let best: T | undefined;
  for (const entry of mounts) {
    const mount = entry.mount.replace(/\/+$/, '') || '/';
    const inside = mount === '/' || dir === mount || dir.startsWith(`${mount}/`);
    if (inside && (!best || mount.length > best.mount.replace(/\/+$/, '').length)) best = entry;
  }
  return best;
}

export async function collectHostFacts(
  source: SystemInfoSource,
  workDir: string,
): Promise<HostFacts> {
  const [osInfo, mem, disks, cpu] = await Promise.all([
    source.osInfo(),
    source.mem(),
    source.fsSize().catch(() => []),
    source.cpu(),
  ]);
  let dir = path.resolve(workDir);
  try {
    dir = fs.realpathSync(dir);
  } catch {
    // not created yet: the configured path is the best guess
  }
  const disk = mountOf(disks, dir);
  return {
    platform: platformName(osInfo.platform, osInfo.arch),
    hostname: osInfo.hostname || os.hostname(),
    uname: osInfo.kernel,
    memoryMb: Math.floor(mem.total / MB),
    freeMemoryMb: Math.floor(mem.available / MB),
    swapMb: Math.floor(mem.swaptotal / MB),
    freeSwapMb: Math.floor(mem.swapfree / MB),
    localDiskSpaceKb: Math.floor((disk?.available ?? 0) / 1024),
    cpuCores: Math.max(1, cpu.cores || os.cpus().length),
  };
}

/** Listing 2.4's attributes in its order, then ours (CpuCores, MemoryLimit, DiskLimit, ...). */
function hostJdlRecord(facts: HostFacts, caps: HostCaps): JdlRecord {
  return [
    ['Requirements', jdlExpression('( other.Type == "Job" )')],
    ['Version', jdlString('0')],
    ['Platform', jdlString(facts.platform)],
    ['LocalDiskSpace', jdlNumber(facts.localDiskSpaceKb)],
    ['WNHost', jdlString(facts.hostname)],
    ['Memory', jdlNumber(facts.memoryMb)],
    ['Type', jdlString('machine')],
    ['Uname', jdlString(facts.uname)],
    ['FreeMemory', jdlNumber(facts.freeMemoryMb)],
    ['Swap', jdlNumber(facts.swapMb)],
    ['FreeSwap', jdlNumber(facts.freeSwapMb)],
    ['TotalCpuCores', jdlNumber(facts.cpuCores)],
    ['CpuCores', jdlNumber(caps.cpuCores)],
    ['MemoryLimit', jdlNumber(caps.memoryLimitMb)],
    ['DiskLimit', jdlNumber(caps.diskLimitMb)],
    ['JobSlots', jdlNumber(caps.jobSlots)],
  ];
}

export function buildHostJdl(facts: HostFacts, caps: HostCaps): string {
  return serializeJdl(hostJdlRecord(facts, caps));
}
