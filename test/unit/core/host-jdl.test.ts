import { describe, expect, it } from 'vitest';
import {
  buildHostJdl,
  collectHostFacts,
  jobCaps,
  type SystemInfoSource,
} from '@copilot/core/host-jdl';
import { containerLimits } from '@copilot/core/resource-policy';
import { jdlGet, parseJdl } from '@copilot/protocol/jdl';

const MB = 1024 * 1024;

const fakeSi: SystemInfoSource = {
  osInfo: () =>
    Promise.resolve({
      platform: 'linux',
      arch: 'x64',
      hostname: 'cvmappi24.cern.ch',
      kernel: '6.1.0-18-amd64',
    }),
  mem: () =>
    Promise.resolve({
      total: 1010 * MB,
      available: 683 * MB,
      swaptotal: 127 * MB,
      swapfree: 100 * MB,
    }),
  fsSize: () =>
    Promise.resolve([
      { mount: '/', available: 1000 * 1024 },
      { mount: '/var', available: 4257288 * 1024 },
      { mount: '/var/lib/other', available: 5 * 1024 },
    ]),
  cpu: () => Promise.resolve({ cores: 8 }),
};

describe('host JDL', () => {
  it('has the attributes of listing 2.4 and the volunteer caps, from systeminformation results', async () => {
    const facts = await collectHostFacts(fakeSi, '/var/lib/copilot-agent');
    expect(facts).toEqual({
      platform: 'Linux-x86_64',
      hostname: 'cvmappi24.cern.ch',
      uname: '6.1.0-18-amd64',
      memoryMb: 1010,
      freeMemoryMb: 683,
      swapMb: 127,
      freeSwapMb: 100,
      localDiskSpaceKb: 4257288,
      cpuCores: 8,
    });
    const text = buildHostJdl(facts, {
      cpuCores: 4,
      memoryLimitMb: 512,
      diskLimitMb: 2048,
      jobSlots: 2,
    });
    expect(text.startsWith('[\n  Requirements = ( other.Type == "Job" );\n  Version = "0";')).toBe(
      true,
    );
    expect(text.endsWith('  JobSlots = 2\n]')).toBe(true);
    const record = parseJdl(text);
    expect(record.map(([name]) => name)).toEqual([
      'Requirements',
      'Version',
      'Platform',
      'LocalDiskSpace',
      'WNHost',
      'Memory',
      'Type',
      'Uname',
      'FreeMemory',
      'Swap',
      'FreeSwap',
      'TotalCpuCores',
      'CpuCores',
      'MemoryLimit',
      'DiskLimit',
      'JobSlots',
    ]);
    expect(jdlGet(record, 'Requirements')).toEqual({
      kind: 'expression',
      source: '( other.Type == "Job" )',
    });
    expect(jdlGet(record, 'Type')).toEqual({ kind: 'string', value: 'machine' });
    expect(jdlGet(record, 'LocalDiskSpace')).toEqual({ kind: 'number', value: 4257288 });
    expect(jdlGet(record, 'Memory')).toEqual({ kind: 'number', value: 1010 });
    expect(jdlGet(record, 'FreeSwap')).toEqual({ kind: 'number', value: 100 });
    expect(jdlGet(record, 'CpuCores')).toEqual({ kind: 'number', value: 4 });
    expect(jdlGet(record, 'MemoryLimit')).toEqual({ kind: 'number', value: 512 });
  });

  it('picks the longest matching mount and names other platforms', async () => {
    const other: SystemInfoSource = {
      ...fakeSi,
      osInfo: () =>
        Promise.resolve({ platform: 'linux', arch: 'arm64', hostname: 'pi', kernel: '6.6' }),
    };
    const facts = await collectHostFacts(other, '/home/volunteer/work');
    expect(facts.platform).toBe('Linux-aarch64');
    expect(facts.localDiskSpaceKb).toBe(1000);
  });
});

describe('the JDL advertises what one job gets', () => {
  it("CpuCores, MemoryLimit and DiskLimit equal one container's limits, for any slot count", async () => {
    const facts = await collectHostFacts(fakeSi, '/var/lib/copilot-agent');
    for (const jobSlots of [1, 2, 3, 4]) {
      const settings = { cpuLimitPercent: 100, memoryLimitMb: 1500, diskLimitMb: 4000, jobSlots };
      const limits = containerLimits(settings, 8);
      const record = new Map(parseJdl(buildHostJdl(facts, jobCaps(settings, 8))));
      const number = (name: string): unknown => (record.get(name) as { value: unknown }).value;
      expect(number('MemoryLimit')).toBe(limits.memoryBytes / (1024 * 1024));
      expect(number('MemoryLimit')).toBe(1500);
      expect(number('DiskLimit')).toBe(limits.diskBytes / (1024 * 1024));
      expect(number('DiskLimit')).toBe(4000);
      expect(number('CpuCores')).toBe(Math.floor(limits.nanoCpus / 1e9));
      expect(number('JobSlots')).toBe(jobSlots);
    }
  });
});
