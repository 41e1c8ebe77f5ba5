import { describe, expect, it } from 'vitest';
import {
  formatDiskUsage,
  formatMemoryUsage,
  formatRunningProcesses,
  formatSystemLoad,
  hostStatusProbes,
  readStatus,
  type StatusProbes,
} from '@copilot/heartbeat/status-probes';

const MB = 1024 * 1024;

describe('status strings', () => {
  it('systemLoad: three load averages with two decimals', () => {
    expect(formatSystemLoad([0.9, 0.654, 0.5])).toBe('0.90 0.65 0.50');
  });

  it('diskUsage, memoryUsage, runningProcesses', () => {
    expect(formatDiskUsage([{ mount: '/', size: 1000 * MB, used: 250 * MB }])).toBe(
      '/ usedMB=250 sizeMB=1000 usedPercent=25.0',
    );
    expect(formatDiskUsage([])).toMatch(/^error:/);
    expect(
      formatMemoryUsage({ total: 8000 * MB, available: 6000 * MB, swapTotal: 0, swapUsed: 0 }),
    ).toBe('usedMB=2000 totalMB=8000 usedPercent=25.0 swapUsedMB=0 swapTotalMB=0');
    expect(formatRunningProcesses({ all: 9, running: 2, blocked: 0, sleeping: 7 })).toBe(
      'all=9 running=2 blocked=0 sleeping=7',
    );
  });
});

describe('readStatus', () => {
  it('answers an unknown component with a clear error string', async () => {
    expect(await readStatus('cpuTemperature')).toBe(
      "error: unknown component 'cpuTemperature'; known: systemLoad, diskUsage, memoryUsage, runningProcesses",
    );
  });

  it('answers a component of its own (extra) and names it among the known ones', async () => {
    const probes: StatusProbes = {
      ...hostStatusProbes,
      extra: { agentState: () => Promise.resolve('running 1/2') },
    };
    expect(await readStatus('agentState', probes)).toBe('running 1/2');
    expect(await readStatus('agentState')).toMatch(/^error: unknown component 'agentState'/);
    expect(await readStatus('toString', probes)).toBe(
      "error: unknown component 'toString'; known: systemLoad, diskUsage, memoryUsage, runningProcesses, agentState",
    );
  });

  it('turns a failing probe into an error string', async () => {
    const probes: StatusProbes = {
      ...hostStatusProbes,
      diskUsage: () => Promise.reject(new Error('no /proc')),
    };
    expect(await readStatus('diskUsage', probes)).toBe('error: cannot read diskUsage: no /proc');
  });

  it('reads this host', async () => {
    expect(await readStatus('systemLoad')).toMatch(/^\d+\.\d\d \d+\.\d\d \d+\.\d\d$/);
    expect(await readStatus('memoryUsage')).toMatch(/^usedMB=\d+ totalMB=[1-9]\d* usedPercent=/);
    expect(await readStatus('diskUsage')).toMatch(/^\S+ usedMB=\d+ sizeMB=[1-9]\d*/);
    expect(await readStatus('runningProcesses')).toMatch(/^all=[1-9]\d* running=\d+/);
  });
});
