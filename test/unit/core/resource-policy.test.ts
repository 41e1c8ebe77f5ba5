import { describe, expect, it } from 'vitest';
import {
  allowedCores,
  containerLimits,
  decideRun,
  NO_READINGS,
  ResourcePolicy,
  THERMAL,
  thermalStep,
  type PolicyState,
} from '@copilot/core/resource-policy';
import { parseSchedule } from '@copilot/contract/schedule';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';

const MB = 1024 * 1024;
const base: PolicyState = {
  paused: false,
  pausedUntil: null,
  runOnlyWhenIdle: true,
  idleMinutes: 3,
  idleSeconds: null,
  rules: { runOnBattery: false, minBatteryPercent: 50, thermalLimitC: 85, busyCpuPercent: 0 },
  schedule: [],
  readings: NO_READINGS,
  thermalFactor: 1,
};

describe('resource policy decisions', () => {
  it('runs when the host never reported idleness (headless)', () => {
    expect(decideRun(base, 0)).toEqual({ run: true });
  });

  it('waits for idle until the idle threshold is reached', () => {
    expect(decideRun({ ...base, idleSeconds: 179 }, 0)).toEqual({
      run: false,
      reason: 'waiting-for-idle',
    });
    expect(decideRun({ ...base, idleSeconds: 180 }, 0)).toEqual({ run: true });
    expect(decideRun({ ...base, idleSeconds: 5, runOnlyWhenIdle: false }, 0)).toEqual({
      run: true,
    });
  });

  it('a pause wins over everything; a timed pause ends by itself', () => {
    expect(decideRun({ ...base, paused: true, idleSeconds: 9999 }, 0)).toEqual({
      run: false,
      reason: 'paused',
    });
    expect(decideRun({ ...base, pausedUntil: 1000 }, 999)).toEqual({
      run: false,
      reason: 'paused',
    });
    expect(decideRun({ ...base, pausedUntil: 1000 }, 1000)).toEqual({ run: true });
  });

  it('ResourcePolicy: timed pause, idle reports, resume', () => {
    const policy = new ResourcePolicy({
      ...DEFAULT_SETTINGS,
      runOnlyWhenIdle: true,
      idleMinutes: 1,
    });
    expect(policy.decide(0).run).toBe(true);
    policy.reportIdleSeconds(10);
    expect(policy.decide(0)).toEqual({ run: false, reason: 'waiting-for-idle' });
    policy.reportIdleSeconds(60);
    expect(policy.decide(0).run).toBe(true);
    expect(policy.pauseFor(5, 0)).toBe(300_000);
    expect(policy.decide(299_999)).toEqual({ run: false, reason: 'paused' });
    expect(policy.decide(300_000).run).toBe(true);
    expect(policy.pausedUntil(300_000)).toBeNull();
    policy.pauseFor(5, 0);
    policy.clearTimedPause();
    expect(policy.decide(1).run).toBe(true);
    policy.reportIdleSeconds(Number.NaN);
    expect(policy.idleSeconds).toBe(60);
  });
});

describe('container limits', () => {
  it('turns CPU %, memory and disk caps into Docker units: CPU split between slots, memory and disk per job', () => {
    const settings = { cpuLimitPercent: 50, memoryLimitMb: 2048, diskLimitMb: 10_240, jobSlots: 1 };
    expect(containerLimits(settings, 8)).toEqual({
      nanoCpus: 4_000_000_000,
      memoryBytes: 2048 * MB,
      memorySwapBytes: 2048 * MB,
      pidsLimit: 256,
      diskBytes: 10_240 * MB,
    });
    const two = containerLimits({ ...settings, jobSlots: 2 }, 8);
    expect(two.nanoCpus).toBe(2_000_000_000);
    expect(two.memoryBytes).toBe(2048 * MB);
    expect(two.diskBytes).toBe(10_240 * MB);
    expect(containerLimits(settings, 8, 256, 0.5).nanoCpus).toBe(2_000_000_000);
  });

  it('never goes below what Docker accepts', () => {
    const tiny = containerLimits(
      { cpuLimitPercent: 1, memoryLimitMb: 1, diskLimitMb: 100, jobSlots: 64 },
      1,
    );
    expect(tiny.nanoCpus).toBe(10_000_000);
    expect(tiny.memoryBytes).toBe(6 * MB);
  });

  it('allowed cores for the JDL is at least one', () => {
    expect(allowedCores({ cpuLimitPercent: 50 }, 8)).toBe(4);
    expect(allowedCores({ cpuLimitPercent: 10 }, 2)).toBe(1);
  });
});

describe('when-to-compute rules', () => {
  const monday = (hour: number, minute = 0): number =>
    new Date(2026, 10, 30, hour, minute).getTime();

  it('time windows: outside them jobs pause, inside they run; windows may pass midnight', () => {
    const schedule = parseSchedule('Mon-Fri 18:00-08:00; Sat,Sun 00:00-24:00');
    const state = { ...base, schedule };
    expect(decideRun(state, monday(12))).toEqual({
      run: false,
      reason: 'outside-schedule',
      detail: 'outside the computing hours',
    });
    expect(decideRun(state, monday(19))).toEqual({ run: true });
    // Tuesday 07:59 belongs to Monday's window, 08:00 no longer.
    expect(decideRun(state, monday(24 + 7, 59))).toEqual({ run: true });
    expect(decideRun(state, monday(24 + 8)).run).toBe(false);
    // Sunday (the day before this Monday) all day.
    expect(decideRun(state, monday(-12)).run).toBe(true);
  });

  it('battery: pauses on battery unless allowed, and under the minimum charge; lifts on mains', () => {
    const onBattery = { ...NO_READINGS, battery: { onBattery: true, percent: 40 } };
    expect(decideRun({ ...base, readings: onBattery }, 0)).toEqual({
      run: false,
      reason: 'on-battery',
      detail: 'on battery',
    });
    const allowed = { ...base.rules, runOnBattery: true };
    expect(decideRun({ ...base, rules: allowed, readings: onBattery }, 0)).toEqual({
      run: false,
      reason: 'battery-low',
      detail: 'battery at 40 % (below 50 %)',
    });
    const charged = { ...NO_READINGS, battery: { onBattery: true, percent: 80 } };
    expect(decideRun({ ...base, rules: allowed, readings: charged }, 0)).toEqual({ run: true });
    const mains = { ...NO_READINGS, battery: { onBattery: false, percent: 10 } };
    expect(decideRun({ ...base, readings: mains }, 0)).toEqual({ run: true });
  });

  it('other programs over N % CPU pause jobs; below, or 0 = never, they run', () => {
    const busy = { ...NO_READINGS, otherCpuPercent: 70 };
    const rules = { ...base.rules, busyCpuPercent: 50 };
    expect(decideRun({ ...base, rules, readings: busy }, 0)).toEqual({
      run: false,
      reason: 'computer-busy',
      detail: 'other programs use 70 % CPU (over 50 %)',
    });
    expect(decideRun({ ...base, rules, readings: { ...busy, otherCpuPercent: 30 } }, 0)).toEqual({
      run: true,
    });
    expect(decideRun({ ...base, readings: busy }, 0)).toEqual({ run: true });
  });

  it('the thermal rule lowers the CPU factor step by step, with hysteresis, and restores it', () => {
    let factor = 1;
    const steps: number[] = [];
    for (const temperature of [80, 86, 90, 90, 84, 81, 80, 70, 70, 70]) {
      factor = thermalStep(factor, temperature, 85);
      steps.push(factor);
    }
    expect(steps).toEqual([1, 0.9, 0.8, 0.7, 0.7, 0.7, 0.8, 0.9, 1, 1]);
    let hot = 1;
    for (let i = 0; i < 20; i += 1) hot = thermalStep(hot, 100, 85);
    expect(hot).toBe(THERMAL.floor);
    expect(thermalStep(0.5, 100, 0)).toBe(1);
    expect(thermalStep(0.5, null, 85)).toBe(1);
    const slowed = {
      ...base,
      thermalFactor: 0.6,
      readings: { ...NO_READINGS, cpuTemperatureC: 91 },
    };
    expect(decideRun(slowed, 0)).toEqual({
      run: true,
      cpuFactor: 0.6,
      slowedBy: 'CPU at 91 °C, 60 % speed',
    });
  });

  it('ResourcePolicy: readings throttle the container limits and lift them again', () => {
    const policy = new ResourcePolicy({
      ...DEFAULT_SETTINGS,
      runOnlyWhenIdle: false,
      thermalLimitC: 80,
    });
    const full = policy.limits(4).nanoCpus;
    expect(policy.reportReadings({ ...NO_READINGS, cpuTemperatureC: 95 })).toBe(true);
    expect(policy.limits(4).nanoCpus).toBe(Math.floor(full * 0.9));
    expect(policy.decide(0)).toMatchObject({ run: true, cpuFactor: 0.9 });
    expect(policy.reportReadings({ ...NO_READINGS, cpuTemperatureC: 60 })).toBe(true);
    expect(policy.limits(4).nanoCpus).toBe(full);
    expect(policy.decide(0)).toEqual({ run: true });
    policy.reportReadings({ ...NO_READINGS, battery: { onBattery: true, percent: 99 } });
    expect(policy.decide(0)).toMatchObject({ run: false, reason: 'on-battery' });
    policy.reportReadings(NO_READINGS);
    expect(policy.decide(0)).toEqual({ run: true });
  });

  it('idle time: the largest of the host and sensor readings', () => {
    const policy = new ResourcePolicy({
      ...DEFAULT_SETTINGS,
      runOnlyWhenIdle: true,
      idleMinutes: 1,
    });
    policy.reportIdleSeconds(0); // powerMonitor on Wayland
    expect(policy.decide(0).run).toBe(false);
    policy.reportReadings(NO_READINGS, 120); // logind IdleHint
    expect(policy.idleSeconds).toBe(120);
    expect(policy.decide(0).run).toBe(true);
  });
});
