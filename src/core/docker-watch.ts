/**
 * Whether the container engine answers: probed at start, every 30 s while it does, and with
 * back-off while it does not (each probe looks wherever container-engine.ts says, the engine
 * found last first). Jobs are fetched only while it answers (WorkFetcher). "Check again" in the
 * UI probes at once (checkContainerEngine).
 */
import type { DockerState } from '../contract/ui-contract';
import { backoffDelay, type BackoffOptions } from '../base/backoff';
import type { Logger } from '../base/logger';

const HEALTHY_PROBE_MS = 30_000;

export interface DockerWatchOptions {
  probe: () => Promise<DockerState>;
  logger: Logger;
  backoff: BackoffOptions;
}

export class DockerWatch {
  private current: DockerState = { available: false, message: 'Docker not checked yet' };
  private attempt = 0;
  private nextProbeAt = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly options: DockerWatchOptions) {}

  get state(): DockerState {
    return this.current;
  }

  get available(): boolean {
    return this.current.available;
  }

  /** A probe is under way: whoever waits for Docker is called again when it ends. */
  get probing(): boolean {
    return this.running !== undefined;
  }

  isDue(now: number): boolean {
    return now >= this.nextProbeAt;
  }

  /** Asks the engine now; a probe already under way is shared. */
  probe(): Promise<void> {
    this.running ??= this.ask().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async ask(): Promise<void> {
    const { logger } = this.options;
    const state = await this.options.probe();
    const engineChanged =
      state.available && this.current.available && state.endpoint !== this.current.endpoint;
    if (state.available !== this.current.available || engineChanged) {
      if (state.available) {
        const label = state.engine === 'podman' ? 'Podman' : 'Docker';
        const fields: Record<string, string> = {};
        if (state.version !== undefined) fields.version = state.version;
        if (state.endpoint !== undefined) fields.endpoint = state.endpoint;
        logger.info(`${label} is available`, fields);
      } else
        logger.warn('No container engine is running; jobs wait until one is back', {
          detail: state.message,
        });
    }
    // A probe that looked everywhere (tried) says what it found; a bare failure says it shortly.
    this.current =
      state.available || state.tried !== undefined
        ? state
        : { ...state, message: 'Docker is not running' };
    if (state.available) {
      this.attempt = 0;
      this.nextProbeAt = Date.now() + HEALTHY_PROBE_MS;
    } else {
      this.nextProbeAt = Date.now() + backoffDelay(this.attempt, this.options.backoff);
      this.attempt += 1;
    }
  }
}
