import { useState } from 'react';
import type { AgentStatus, ConnectionState, RunningJob } from '../../contract/ui-contract';
import { RunningJobs } from '../components/running-jobs';
import { ContainerEnginePanel } from '../components/container-engine-panel';
import { useCopilot } from '../copilot-context';
import { errorMessage } from '../../base/errors';
import { formatPercent, formatTime } from '../format';
import type { StatusState } from '../hooks/use-agent-status';

const CONNECTION_LABEL: Record<ConnectionState, string> = {
  'not-configured': 'Not configured',
  connecting: 'Connecting…',
  online: 'Connected',
  offline: 'Offline',
  'auth-failed': 'Login refused',
};

function tone(ok: boolean, warn = false): string {
  return ok ? 'ok' : warn ? 'warn' : 'bad';
}

/** Suspend or resume one job, and abort it (after a confirmation). */
function JobControls(props: {
  job: RunningJob;
  suspended: boolean;
  busy: boolean;
  act: (action: () => Promise<AgentStatus>) => void;
}) {
  const api = useCopilot();
  const { job, busy, act } = props;
  return (
    <>
      {props.suspended ? (
        <button disabled={busy} onClick={() => act(() => api.resumeJob(job.jobId))}>
          Resume job
        </button>
      ) : (
        <button disabled={busy} onClick={() => act(() => api.suspendJob(job.jobId))}>
          Suspend job
        </button>
      )}
      <button
        className="danger"
        disabled={busy}
        data-testid="abort-job"
        onClick={() => {
          if (window.confirm(`Abort job ${job.jobId}? Its work so far is lost.`)) {
            act(() => api.abortJob(job.jobId));
          }
        }}
      >
        Abort job
      </button>
    </>
  );
}

export interface StatusViewProps {
  state: StatusState;
  onOpenSettings(): void;
}

export function StatusView({ state, onOpenSettings }: StatusViewProps) {
  const api = useCopilot();
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const { status } = state;
  if (!status) {
    return (
      <p className="muted">{state.error ? `Cannot reach the agent: ${state.error}` : 'Loading…'}</p>
    );
  }
  const act = (action: () => Promise<AgentStatus>): void => {
    setBusy(true);
    setActionError(null);
    action()
      .catch((e: unknown) => setActionError(errorMessage(e)))
      .finally(() => setBusy(false));
  };
  const suspended = new Set(status.suspendedJobs ?? []);
  const jobActions = (job: RunningJob) => (
    <JobControls job={job} suspended={suspended.has(job.jobId)} busy={busy} act={act} />
  );
  return (
    <div className="stack">
      <section className={`hero hero-${status.activity}`} aria-live="polite">
        <div>
          <div className="hero-label">Now</div>
          <div className="hero-line" data-testid="status-line">
            {status.statusLine}
          </div>
          {status.paused && status.pausedUntil && (
            <div className="muted">Resumes at {formatTime(status.pausedUntil)}</div>
          )}
          {status.admin && (
            <div className="muted" data-testid="admin-order">
              {status.admin.order === 'drain' ? 'No new work is taken' : 'Jobs are frozen'}: ordered
              by the project admin {status.admin.by} at {formatTime(status.admin.since)}. Only a
              project admin can lift it; your own Pause and Resume still apply.
            </div>
          )}
          {status.rule && (
            <div className="muted" data-testid="rule">
              {status.rule.rule === 'thermal' ? 'Slowed' : 'Paused'} by a rule of your settings:{' '}
              {status.rule.reason}
            </div>
          )}
        </div>
        <div className="actions">
          {status.paused ? (
            <button className="primary" disabled={busy} onClick={() => act(() => api.resume())}>
              Resume
            </button>
          ) : (
            <>
              <button disabled={busy} onClick={() => act(() => api.pause())}>
                Pause
              </button>
              <button disabled={busy} onClick={() => act(() => api.pause(60))}>
                Pause for 1 hour
              </button>
              {status.running.length > 0 && !status.finishing && (
                <button disabled={busy} onClick={() => act(() => api.finishThenPause())}>
                  Finish jobs, then pause
                </button>
              )}
            </>
          )}
        </div>
      </section>
      {status.connection === 'not-configured' && (
        <section className="card callout">
          <p>
            Co-Pilot Desktop needs your project&apos;s job manager and an XMPP account before it can
            fetch work.
          </p>
          <button className="primary" onClick={onOpenSettings}>
            Open settings
          </button>
        </section>
      )}
      {actionError && (
        <p className="error" role="alert">
          {actionError}
        </p>
      )}
      <div className="grid">
        <section className="card">
          <h3>Connection</h3>
          <p>
            <span
              className={`dot dot-${tone(status.connection === 'online', status.connection === 'connecting')}`}
            />
            <span data-testid="connection">{CONNECTION_LABEL[status.connection]}</span>
          </p>
          {status.connectionMessage && <p className="muted">{status.connectionMessage}</p>}
          <dl>
            <dt>Agent</dt>
            <dd>{status.jid ?? '—'}</dd>
            <dt>Job manager</dt>
            <dd>{status.jobManager || '—'}</dd>
          </dl>
        </section>
        <ContainerEnginePanel
          state={status.docker}
          checking={busy}
          onCheck={() => act(() => api.checkContainerEngine())}
        />
        <section className="card">
          <h3>Resources</h3>
          <dl>
            <dt>CPU share</dt>
            <dd data-testid="cpu-share">{formatPercent(status.cpuShare)}</dd>
            <dt>Job slots</dt>
            <dd>
              {status.slots.busy} of {status.slots.total} busy
            </dd>
            <dt>Run only when idle</dt>
            <dd>
              {status.idle.required
                ? `yes — idle ${Math.floor(status.idle.idleSeconds / 60)} of ${Math.round(status.idle.thresholdSeconds / 60)} min`
                : 'no'}
            </dd>
          </dl>
        </section>
      </div>
      <section className="card">
        <h3>Current jobs</h3>
        <RunningJobs jobs={status.running} receivedAt={state.receivedAt} actions={jobActions} />
      </section>
    </div>
  );
}
