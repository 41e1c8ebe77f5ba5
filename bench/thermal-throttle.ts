/**
 * The thermal rule's CPU quota over a synthetic temperature ramp (issue #16): one reading a step,
 * up from 70 °C past the limit to 100 °C and back down to 60 °C, through the agent's own
 * thermalStep and containerLimits (limit 85 °C, hysteresis 5 °C; a host of 8 cores at a 100 %
 * CPU limit, one job slot). No servers; it shows the shape, not a speed.
 */
import { containerLimits, thermalStep, THERMAL } from '@copilot/core/resource-policy';

export interface ThermalStep {
  step: number;
  temperatureC: number;
  factor: number;
  /** The job container's HostConfig.NanoCpus at that step, in cores. */
  cores: number;
}

export interface ThermalThrottleResult {
  limitC: number;
  hysteresisC: number;
  hostCores: number;
  steps: ThermalStep[];
}

/** 70 → 100 °C in 3 °C steps, 100 °C held 4 readings, 96 → 60 °C in 4 °C steps, 60 °C twice more. */
export function syntheticRamp(): number[] {
  const ramp: number[] = [];
  for (let t = 70; t <= 100; t += 3) ramp.push(t);
  for (let i = 0; i < 4; i += 1) ramp.push(100);
  for (let t = 96; t >= 60; t -= 4) ramp.push(t);
  ramp.push(60, 60);
  return ramp;
}

export function runThermalThrottle(): ThermalThrottleResult {
  const limitC = 85;
  const hostCores = 8;
  const settings = { cpuLimitPercent: 100, memoryLimitMb: 2048, diskLimitMb: 10_240, jobSlots: 1 };
  let factor = 1;
  const steps = syntheticRamp().map((temperatureC, step) => {
    factor = thermalStep(factor, temperatureC, limitC);
    const { nanoCpus } = containerLimits(settings, hostCores, undefined, factor);
    return { step, temperatureC, factor, cores: nanoCpus / 1e9 };
  });
  return { limitC, hysteresisC: THERMAL.hysteresisC, hostCores, steps };
}
