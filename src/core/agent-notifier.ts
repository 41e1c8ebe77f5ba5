/**
 * What the volunteer is told without looking (the contract's 'notification' event, a desktop
 * notification in the Electron main): a job failed, a manager refused a job, the connection has
 * been lost for more than a minute, or the container engine (Docker or Podman, by the name it
 * answered with) went away. Each outage is told once; a job the
 * volunteer aborted is not news to them.
 */
import type {
  AgentNotification,
  ContainerEngineName,
  JobHistoryRecord,
  NotificationKind,
} from '../contract/ui-contract';

export const CONNECTION_LOST_NOTICE_MS = 60_000;
export const ABORTED_BY_VOLUNTEER = 'aborted by the volunteer';

export interface NotifierObservation {
  /** Whether the agent should be connected (started and configured). */
  wantsConnection: boolean;
  online: boolean;
  dockerAvailable: boolean;
  /** The engine that answers (DockerState.engine); absent while none does, or unknown. */
  engine?: ContainerEngineName;
}

const ENGINE_NAMES: Record<ContainerEngineName, string> = { docker: 'Docker', podman: 'Podman' };

export class AgentNotifier {
  private offlineSince: number | null = null;
  private connectionTold = false;
  private dockerWas: boolean | null = null;
  /** The name of the engine that last answered, for telling that it went away. */
  private engineWas: string | undefined;

  constructor(
    private readonly emit: (notification: AgentNotification) => void,
    private readonly connectionLostAfterMs = CONNECTION_LOST_NOTICE_MS,
  ) {}

  /** A job ended: a failure or a manager's refusal is news. */
  jobEnded(record: JobHistoryRecord, now = Date.now()): void {
    if (record.state === 'done') return;
    const why = record.error ?? `it ended as ${record.state}`;
    if (record.state === 'aborted') {
      if (why === ABORTED_BY_VOLUNTEER) return;
      this.tell('job-refused', `Job ${record.jobId} was refused`, why, now, record.jobId);
      return;
    }
    this.tell('job-failed', `Job ${record.jobId} failed`, why, now, record.jobId);
  }

  /** Called every tick with the connection and the container engine as they are now. */
  observe(state: NotifierObservation, now = Date.now()): void {
    if (!state.wantsConnection || state.online) {
      this.offlineSince = null;
      this.connectionTold = false;
    } else {
      this.offlineSince ??= now;
      if (!this.connectionTold && now - this.offlineSince >= this.connectionLostAfterMs) {
        this.connectionTold = true;
        const minutes = Math.round((now - this.offlineSince) / 60_000);
        const body = `No connection to the XMPP server for ${minutes} min; jobs wait for it.`;
        this.tell('connection-lost', 'Co-Pilot is offline', body, now);
      }
    }
    if (this.dockerWas === true && !state.dockerAvailable) {
      const title = `${this.engineWas ?? 'The container engine'} went away`;
      const body = `Jobs cannot run until ${this.engineWas ?? 'it'} is back.`;
      this.tell('docker-gone', title, body, now);
    }
    this.dockerWas = state.dockerAvailable;
    if (state.dockerAvailable) {
      this.engineWas = state.engine === undefined ? undefined : ENGINE_NAMES[state.engine];
    }
  }

  private tell(
    kind: NotificationKind,
    title: string,
    body: string,
    now: number,
    jobId?: string,
  ): void {
    const notification: AgentNotification = {
      kind,
      title,
      body,
      time: new Date(now).toISOString(),
    };
    if (jobId !== undefined) notification.jobId = jobId;
    this.emit(notification);
  }
}
