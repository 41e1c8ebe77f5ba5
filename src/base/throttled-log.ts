import type { LogFields, Logger } from './logger';

export interface ThrottledLogOptions {
  /** At most one line per key in this time (default one minute). */
  intervalMs?: number;
  /** Keys remembered at once (default 1000); beyond it the new keys share one. */
  maxKeys?: number;
  now?: () => number;
}

interface Slot {
  loggedAt: number;
  suppressed: number;
}

/** The key that keys beyond maxKeys share; no real key starts with NUL. */
const OTHERS = '\u0000others';

/**
 * Warnings about things a peer can repeat at will (a refused sender, an invented path): one
 * line per key per interval, carrying how many were left out since the last one. Memory and
 * log volume stay bounded however many keys a peer makes up.
 */
export class ThrottledLog {
  // Kept in the order of their last line, so the expired ones are at the front.
  private readonly slots = new Map<string, Slot>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    options: ThrottledLogOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 1000;
    this.now = options.now ?? Date.now;
  }

  warn(key: string, message: string, fields: LogFields): void {
    const now = this.now();
    const slotKey = this.slotKeyFor(key, now);
    const slot = this.slots.get(slotKey);
    if (slot && now - slot.loggedAt < this.intervalMs) {
      slot.suppressed += 1;
      return;
    }
    this.slots.delete(slotKey);
    this.slots.set(slotKey, { loggedAt: now, suppressed: 0 });
    const extra = slot?.suppressed ? { suppressedSinceLastLine: slot.suppressed } : {};
    const others = slotKey === OTHERS ? { throttledWithOtherKeys: true } : {};
    this.logger.warn(message, { ...fields, ...extra, ...others });
  }

  /** Keys remembered now (for tests). */
  get size(): number {
    return this.slots.size;
  }

  private slotKeyFor(key: string, now: number): string {
    if (this.slots.has(key)) return key;
    this.forgetExpired(now);
    return this.slots.size < this.maxKeys ? key : OTHERS;
  }

  private forgetExpired(now: number): void {
    for (const [key, slot] of this.slots) {
      if (now - slot.loggedAt < this.intervalMs) return;
      this.slots.delete(key);
    }
  }
}
