/** Exponential back-off with full jitter, so that many agents do not retry in lock step. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Fraction of the delay that is randomised, 0..1. */
  jitter: number;
}

export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt));
  const spread = exponential * options.jitter;
  return Math.round(exponential - spread + random() * spread);
}
