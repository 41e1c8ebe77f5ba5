import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HostSensors,
  inputDevicesIdleSeconds,
  logindIdleSeconds,
  parseLogindIdle,
  type SensorSource,
} from '@copilot/core/host-sensors';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

function source(values: {
  battery?: { hasBattery: boolean; acConnected: boolean; percent: number };
  temperature?: number;
  load?: number;
}): SensorSource {
  return {
    battery: () =>
      Promise.resolve(values.battery ?? { hasBattery: false, acConnected: true, percent: 0 }),
    cpuTemperature: () => Promise.resolve({ main: values.temperature ?? -1 }),
    currentLoad: () => Promise.resolve({ currentLoad: values.load ?? 0 }),
  };
}

describe('host sensors', () => {
  it('reads battery, temperature and load; no battery or sensor reads as unknown', async () => {
    const sensors = new HostSensors({
      source: source({
        battery: { hasBattery: true, acConnected: false, percent: 42 },
        temperature: 77,
        load: 30,
      }),
      ownCpuSeconds: () => 0,
      hostCpuCount: 4,
    });
    expect(await sensors.sample(NOW)).toEqual({
      readings: {
        battery: { onBattery: true, percent: 42 },
        cpuTemperatureC: 77,
        otherCpuPercent: 30,
      },
      idleSeconds: null,
    });
    const none = new HostSensors({ source: source({}), ownCpuSeconds: () => 0, hostCpuCount: 4 });
    expect((await none.sample(NOW)).readings).toMatchObject({
      battery: null,
      cpuTemperatureC: null,
    });
    const broken: SensorSource = {
      battery: () => Promise.reject(new Error('no')),
      cpuTemperature: () => Promise.reject(new Error('no')),
      currentLoad: () => Promise.reject(new Error('no')),
    };
    const failing = new HostSensors({ source: broken, ownCpuSeconds: () => 0, hostCpuCount: 1 });
    expect((await failing.sample(NOW)).readings).toEqual({
      battery: null,
      cpuTemperatureC: null,
      otherCpuPercent: null,
    });
  });

  it("other programs' CPU is the load less our jobs' share since the last sample", async () => {
    let own = 0;
    const sensors = new HostSensors({
      source: source({ load: 80 }),
      ownCpuSeconds: () => own,
      hostCpuCount: 4,
    });
    await sensors.sample(NOW);
    own = 20; // 20 CPU seconds in 10 s on 4 cores: 50 %
    expect((await sensors.sample(NOW + 10_000)).readings.otherCpuPercent).toBe(30);
  });

  it('idle time from logind IdleHint (loginctl via execFile), else /dev/input', async () => {
    const since = (NOW - 300_000) * 1000;
    expect(parseLogindIdle(`IdleHint=yes\nIdleSinceHint=${since}\n`, NOW)).toBe(300);
    expect(parseLogindIdle('IdleHint=no\nIdleSinceHint=0\n', NOW)).toBe(0);
    expect(parseLogindIdle('', NOW)).toBeNull();
    const calls: Array<[string, readonly string[]]> = [];
    const run = (file: string, args: readonly string[]): Promise<string> => {
      calls.push([file, args]);
      return Promise.resolve(`IdleHint=yes\nIdleSinceHint=${since}\n`);
    };
    expect(await logindIdleSeconds(run, NOW)).toBe(300);
    expect(calls).toEqual([
      ['loginctl', ['show-session', '-p', 'IdleHint', '-p', 'IdleSinceHint']],
    ]);
    expect(await logindIdleSeconds(() => Promise.reject(new Error('ENOENT')), NOW)).toBeNull();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'input-'));
    try {
      expect(inputDevicesIdleSeconds(dir, NOW)).toBeNull();
      fs.writeFileSync(path.join(dir, 'event0'), '');
      fs.writeFileSync(path.join(dir, 'mice'), '');
      fs.utimesSync(path.join(dir, 'event0'), (NOW - 60_000) / 1000, (NOW - 60_000) / 1000);
      expect(inputDevicesIdleSeconds(dir, NOW)).toBe(60);
      const sensors = new HostSensors({
        source: source({}),
        ownCpuSeconds: () => 0,
        hostCpuCount: 1,
        idle: true,
        run: () => Promise.reject(new Error('no loginctl')),
        inputDir: dir,
      });
      expect((await sensors.sample(NOW)).idleSeconds).toBe(60);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(inputDevicesIdleSeconds('/nonexistent-input-dir', NOW)).toBeNull();
  });
});

describe('host sensors: only what a rule needs', () => {
  it('skips the temperature, the load and the idle time when no rule needs them', async () => {
    const asked: string[] = [];
    const counting: SensorSource = {
      battery: () => {
        asked.push('battery');
        return Promise.resolve({ hasBattery: false, acConnected: true, percent: 0 });
      },
      cpuTemperature: () => {
        asked.push('temperature');
        return Promise.resolve({ main: 50 });
      },
      currentLoad: () => {
        asked.push('load');
        return Promise.resolve({ currentLoad: 10 });
      },
    };
    const sensors = new HostSensors({
      source: counting,
      ownCpuSeconds: () => 0,
      hostCpuCount: 1,
      idle: true,
      run: () => {
        asked.push('loginctl');
        return Promise.resolve('IdleHint=no\n');
      },
      needs: () => ({ temperature: false, load: false, idle: false }),
    });
    expect((await sensors.sample(NOW)).readings).toEqual({
      battery: null,
      cpuTemperatureC: null,
      otherCpuPercent: null,
    });
    expect(asked).toEqual(['battery']);
  });
});
