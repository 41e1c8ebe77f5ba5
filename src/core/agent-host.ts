import type { AgentSettings, UiCommandHandlers, UiEvents } from '../contract/ui-contract';
import type { TypedEmitter } from '../base/typed-emitter';

export type AgentHostEvents = { [E in keyof UiEvents]: [payload: UiEvents[E]] };

/**
 * What a host (the Electron main process or the headless `copilot-agent`) sees of the agent:
 * the UI contract's command handlers, its events, and the few inputs only a host can give.
 */
export interface AgentHost {
  readonly commands: UiCommandHandlers;
  readonly events: TypedEmitter<AgentHostEvents>;
  start(): Promise<void>;
  /** Stops taking work; a running job is checkpointed as far as possible, never silently lost. */
  stop(): Promise<void>;
  /** Seconds since the volunteer last touched keyboard or mouse (Electron's powerMonitor). */
  reportIdleSeconds(seconds: number): void;
}

export interface AgentHostOptions {
  settings: AgentSettings;
  /** Where job work dirs, job history and state live (AGENT_WORK_DIR). */
  dataDir: string;
  /** Called after setSettings succeeds, so the host can persist (electron-store, config file). */
  persistSettings?: (settings: AgentSettings) => void | Promise<void>;
}
