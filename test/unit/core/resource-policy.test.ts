import { describe, expect, it } from 'vitest';
import {
  allowedCores,
  containerLimits,
  decideRun,
  ResourcePolicy,
  type PolicyState,
} from '@copilot/core/resource-policy';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';

const MB = 1024 * 1024;
const base: PolicyState = {
  paused: false,
  pausedUntil: null,
  runOnlyWhenIdle: true,
  idleMinutes: 3,
  idleSeconds: null,
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
  it('turns CPU %, memory and disk caps into Docker units, split between slots', () => {
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
    expect(two.memoryBytes).toBe(1024 * MB);
    expect(two.diskBytes).toBe(5120 * MB);
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
