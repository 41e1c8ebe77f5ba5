import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withTimeout } from '@copilot/base/with-timeout';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('withTimeout', () => {
  it('gives the value of a promise that settles in time and leaves no timer behind', async () => {
    await expect(withTimeout(Promise.resolve(7), 15_000, 'late')).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('no')), 15_000, 'late')).rejects.toThrow(
      'no',
    );
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the message once the time is up', async () => {
    const waiting = withTimeout(new Promise<never>(() => undefined), 5000, 'no answer');
    const outcome = expect(waiting).rejects.toThrow('no answer');
    await vi.advanceTimersByTimeAsync(5000);
    await outcome;
    expect(vi.getTimerCount()).toBe(0);
  });
});
