import { describe, expect, it } from 'vitest';
import { isValidReportPath } from '@manager/monitor/report-rules';
import {
  figureName,
  hostSystemSource,
  SystemFigures,
  type NetReading,
  type SystemSource,
} from '@manager/job-manager/system-figures';

const MB = 1024 * 1024;

function fakeSource(net: NetReading[][]): SystemSource {
  let sample = 0;
  return {
    disks: () =>
      Promise.resolve([
        { mount: '/', usedBytes: 100 * MB, availableBytes: 900 * MB },
        { mount: '/var/lib/docker', usedBytes: 5 * MB, availableBytes: 7 * MB },
      ]),
    load: () => Promise.resolve([0.5, 0.25, 0.125]),
    net: () => Promise.resolve(net[Math.min(sample++, net.length - 1)] ?? []),
    memory: () =>
      Promise.resolve({
        usedBytes: 512 * MB,
        availableBytes: 1536 * MB,
        swapUsedBytes: 0,
        swapAvailableBytes: 1024 * MB,
      }),
  };
}

describe('system figures (2.3.2)', () => {
  it('names every figure as the report does, in megabytes, net as the traffic since the last sample', async () => {
    const figures = new SystemFigures(
      fakeSource([
        [{ iface: 'eth0', rxBytes: 10 * MB, txBytes: 2 * MB }],
        [{ iface: 'eth0', rxBytes: 13 * MB, txBytes: 2.5 * MB }],
        [{ iface: 'eth0', rxBytes: 1 * MB, txBytes: 3 * MB }],
      ]),
    );
    const first = new Map((await figures.sample()).map((f) => [f.event, f.value]));
    expect(Object.fromEntries(first)).toEqual({
      'system.disk.used.root': 100,
      'system.disk.available.root': 900,
      'system.disk.used.var_lib_docker': 5,
      'system.disk.available.var_lib_docker': 7,
      'system.load.1min': 0.5,
      'system.load.5min': 0.25,
      'system.load.15min': 0.13,
      'system.net.in.eth0': 0,
      'system.net.out.eth0': 0,
      'system.ram.used.mem': 512,
      'system.ram.available.mem': 1536,
      'system.ram.used.swap': 0,
      'system.ram.available.swap': 1024,
    });
    const second = new Map((await figures.sample()).map((f) => [f.event, f.value]));
    expect(second.get('system.net.in.eth0')).toBe(3);
    expect(second.get('system.net.out.eth0')).toBe(0.5);
    // A counter that went back (reset) gives 0, not a negative figure.
    const third = new Map((await figures.sample()).map((f) => [f.event, f.value]));
    expect(third.get('system.net.in.eth0')).toBe(0);
    for (const event of first.keys()) {
      expect(isValidReportPath('jobmanager.generic.jm', event), event).toBe(true);
    }
  });

  it('leaves out a reading that fails and keeps the others', async () => {
    const source = { ...fakeSource([]), memory: () => Promise.reject(new Error('no /proc')) };
    const events = (await new SystemFigures(source).sample()).map((f) => f.event);
    expect(events).toContain('system.load.1min');
    expect(events.some((event) => event.startsWith('system.ram'))).toBe(false);
  });

  it('makes a disk or interface name one safe path component', () => {
    expect(figureName('/')).toBe('root');
    expect(figureName('/home/')).toBe('home');
    expect(figureName('veth12@if5')).toBe('veth12_if5');
    expect(figureName('a.b/c')).toBe('a_b_c');
  });

  it('reads this host', async () => {
    const figures = await new SystemFigures(hostSystemSource).sample();
    const events = figures.map((f) => f.event);
    expect(events).toEqual(expect.arrayContaining(['system.load.1min', 'system.ram.used.mem']));
    expect(events.some((event) => event.startsWith('system.disk.available.'))).toBe(true);
    expect(figures.every((f) => Number.isFinite(f.value))).toBe(true);
  });
});
