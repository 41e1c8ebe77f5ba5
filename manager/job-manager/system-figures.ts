/**
 * The manager's host figures of report 2.3.2, reported as values under its component every
 * minute when a Monitor is configured (as the original's SystemMonitor plug-in did), all in
 * megabytes:
 *
 * - `system.disk.used.<disk>`, `system.disk.available.<disk>`: per mounted file system, named
 *   after its mount point (`/` is `root`, `/var/lib` is `var_lib`);
 * - `system.load.1min`, `system.load.5min`, `system.load.15min`;
 * - `system.net.in.<interface>`, `system.net.out.<interface>`: traffic since the last sample
 *   (0 at the first, and after a counter reset). The original reported `out` negated, for its
 *   graphs; we report both as they are;
 * - `system.ram.used.mem|swap`, `system.ram.available.mem|swap` (used memory excludes caches).
 *
 * Read with systeminformation; a reading that fails is left out of that sample. At most
 * MAX_NAMED disks and interfaces are reported, so a host with hundreds of container interfaces
 * does not flood the Monitor.
 */
import os from 'node:os';
import si from 'systeminformation';
import { errorMessage } from '@copilot/base/errors';
import type { Logger } from '@copilot/base/logger';

export type SystemEvent = `system.${string}`;

export interface SystemFigure {
  event: SystemEvent;
  value: number;
}

export interface DiskReading {
  mount: string;
  usedBytes: number;
  availableBytes: number;
}

export interface NetReading {
  iface: string;
  rxBytes: number;
  txBytes: number;
}

export interface MemoryReading {
  usedBytes: number;
  availableBytes: number;
  swapUsedBytes: number;
  swapAvailableBytes: number;
}

/** Where the readings come from: the host (systeminformation) or, in tests, a fake. */
export interface SystemSource {
  disks(): Promise<DiskReading[]>;
  load(): Promise<readonly number[]>;
  net(): Promise<NetReading[]>;
  memory(): Promise<MemoryReading>;
}

const MB = 1024 * 1024;
const MAX_NAMED = 32;
const PSEUDO_FS = /^(tmpfs|devtmpfs|overlay|squashfs|proc|sysfs|devpts|cgroup2?|nsfs)$/;

export const hostSystemSource: SystemSource = {
  async disks() {
    const all = (await si.fsSize()).filter((fs) => fs.size > 0);
    // Pseudo and overlay mounts say nothing about the disks, unless they are all there is.
    const real = all.filter((fs) => !PSEUDO_FS.test(fs.type));
    return (real.length > 0 ? real : all).map((fs) => ({
      mount: fs.mount,
      usedBytes: fs.used,
      availableBytes: fs.available,
    }));
  },
  load: () => Promise.resolve(os.loadavg()),
  async net() {
    const stats = await si.networkStats('*');
    return stats.map((stat) => ({
      iface: stat.iface,
      rxBytes: stat.rx_bytes,
      txBytes: stat.tx_bytes,
    }));
  },
  async memory() {
    const memory = await si.mem();
    return {
      usedBytes: Math.max(0, memory.total - memory.available),
      availableBytes: memory.available,
      swapUsedBytes: memory.swapused,
      swapAvailableBytes: memory.swapfree,
    };
  },
};

/** A disk or interface name as one Graphite path component: `/` → root, `/var/lib` → var_lib. */
export function figureName(name: string): string {
  const trimmed = name.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return 'root';
  return trimmed.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 60);
}

function megabytes(bytes: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round((bytes / MB) * scale) / scale;
}

/** Samples the figures; keeps the network counters of the last sample for the differences. */
export class SystemFigures {
  private readonly lastNet = new Map<string, NetReading>();

  constructor(
    private readonly source: SystemSource = hostSystemSource,
    private readonly logger?: Logger,
  ) {}

  async sample(): Promise<SystemFigure[]> {
    const parts = await Promise.all([
      this.read('disk', async () => this.diskFigures(await this.source.disks())),
      this.read('load', async () => loadFigures(await this.source.load())),
      this.read('net', async () => this.netFigures(await this.source.net())),
      this.read('ram', async () => memoryFigures(await this.source.memory())),
    ]);
    return parts.flat();
  }

  private async read(what: string, work: () => Promise<SystemFigure[]>): Promise<SystemFigure[]> {
    try {
      return await work();
    } catch (error) {
      this.logger?.debug('system figure not read', { what, error: errorMessage(error) });
      return [];
    }
  }

  private diskFigures(disks: readonly DiskReading[]): SystemFigure[] {
    return disks.slice(0, MAX_NAMED).flatMap((disk) => {
      const name = figureName(disk.mount);
      return [
        { event: `system.disk.used.${name}`, value: megabytes(disk.usedBytes) },
        { event: `system.disk.available.${name}`, value: megabytes(disk.availableBytes) },
      ];
    });
  }

  private netFigures(all: readonly NetReading[]): SystemFigure[] {
    const readings = all.slice(0, MAX_NAMED);
    // Interfaces that went (containers' veths) are forgotten.
    const current = new Set(readings.map((reading) => reading.iface));
    for (const iface of this.lastNet.keys()) if (!current.has(iface)) this.lastNet.delete(iface);
    return readings.flatMap((reading) => {
      const last = this.lastNet.get(reading.iface);
      this.lastNet.set(reading.iface, reading);
      const delta = (now: number, before: number | undefined): number =>
        before === undefined || now < before ? 0 : megabytes(now - before, 3);
      const name = figureName(reading.iface);
      return [
        { event: `system.net.in.${name}`, value: delta(reading.rxBytes, last?.rxBytes) },
        { event: `system.net.out.${name}`, value: delta(reading.txBytes, last?.txBytes) },
      ];
    });
  }
}

function loadFigures(load: readonly number[]): SystemFigure[] {
  return (['1min', '5min', '15min'] as const).map((span, index) => ({
    event: `system.load.${span}`,
    value: Math.round((load[index] ?? 0) * 100) / 100,
  }));
}

function memoryFigures(memory: MemoryReading): SystemFigure[] {
  return [
    { event: 'system.ram.used.mem', value: megabytes(memory.usedBytes) },
    { event: 'system.ram.available.mem', value: megabytes(memory.availableBytes) },
    { event: 'system.ram.used.swap', value: megabytes(memory.swapUsedBytes) },
    { event: 'system.ram.available.swap', value: megabytes(memory.swapAvailableBytes) },
  ];
}
