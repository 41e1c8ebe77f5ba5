export const IDLE_POLL_MS = 5_000;

export interface IdleMonitorOptions {
  /** Seconds since the last keyboard or mouse input (Electron's powerMonitor.getSystemIdleTime). */
  idleSeconds(): number;
  report(seconds: number): void;
  intervalMs?: number;
}

/** Polls the system idle time and reports it right away and then every `intervalMs`. */
export function startIdleMonitor(options: IdleMonitorOptions): () => void {
  const poll = (): void => options.report(options.idleSeconds());
  poll();
  const timer = setInterval(poll, options.intervalMs ?? IDLE_POLL_MS);
  return () => clearInterval(timer);
}
