import { useState } from 'react';
import type { AgentStatus, DetachMode, ProjectInfo } from '../../contract/ui-contract';
import { useCopilot } from '../copilot-context';
import { errorMessage } from '../../base/errors';
import { formatPercent } from '../format';
import './projects-view.css';

export interface ProjectsViewProps {
  status: AgentStatus | null;
  /** "Add a project": the attach screen (first-run-view.tsx). */
  onAdd(): void;
}

const DETACH_QUESTION: Record<DetachMode, (name: string) => string> = {
  finish: (name) =>
    `Detach from ${name}? No new work is asked for; its running jobs finish first. Then its account and settings are forgotten on this computer.`,
  abort: (name) =>
    `Detach from ${name} now? Its running jobs are aborted (their work so far is lost), then its account and settings are forgotten on this computer.`,
};

/** One project: what it does, its share of the CPU, Pause or Resume, and Detach. */
function ProjectRow(props: {
  project: ProjectInfo;
  busy: boolean;
  act: (action: () => Promise<AgentStatus>) => void;
}) {
  const api = useCopilot();
  const { project, busy, act } = props;
  const [share, setShare] = useState(String(project.share));
  const detach = (mode: DetachMode): void => {
    if (window.confirm(DETACH_QUESTION[mode](project.name))) {
      act(() => api.detachProject(project.id, mode));
    }
  };
  const shareValue = Number(share);
  const shareValid = Number.isInteger(shareValue) && shareValue >= 1 && shareValue <= 1000;
  return (
    <li className="card project" data-testid={`project-${project.id}`}>
      <h2>{project.name}</h2>
      <dl>
        <dt>State</dt>
        <dd data-testid="project-state">
          {project.detaching ? 'Detaching: finishing its jobs' : project.statusLine}
        </dd>
        <dt>Job manager</dt>
        <dd>{project.manager}</dd>
        <dt>This computer</dt>
        <dd>{project.jid ?? 'not connected'}</dd>
        <dt>Jobs</dt>
        <dd data-testid="project-jobs">
          {project.jobs.running} running, {project.jobs.done} done
        </dd>
        <dt>CPU</dt>
        <dd data-testid="project-cpu">up to {formatPercent(project.cpuShare)} of this computer</dd>
      </dl>
      <form
        className="project-share"
        onSubmit={(event) => {
          event.preventDefault();
          if (shareValid) act(() => api.setProjectShare(project.id, shareValue));
        }}
      >
        <label>
          Resource share{' '}
          <input
            type="number"
            min={1}
            max={1000}
            value={share}
            aria-label={`Resource share of ${project.name}`}
            data-testid="project-share"
            onChange={(event) => setShare(event.target.value)}
          />
        </label>
        <button type="submit" disabled={busy || !shareValid || shareValue === project.share}>
          Set share
        </button>
      </form>
      <div className="actions">
        {project.paused ? (
          <button
            disabled={busy || project.detaching}
            data-testid="project-resume"
            onClick={() => act(() => api.setProjectPaused(project.id, false))}
          >
            Resume project
          </button>
        ) : (
          <button
            disabled={busy || project.detaching}
            data-testid="project-pause"
            onClick={() => act(() => api.setProjectPaused(project.id, true))}
          >
            Pause project
          </button>
        )}
        <button
          className="danger"
          disabled={busy || project.detaching}
          data-testid="project-detach"
          onClick={() => detach('finish')}
        >
          Detach
        </button>
        {project.jobs.running > 0 && (
          <button
            className="danger"
            disabled={busy || project.detaching}
            data-testid="project-detach-abort"
            onClick={() => detach('abort')}
          >
            Detach now, aborting its jobs
          </button>
        )}
      </div>
    </li>
  );
}

/**
 * The attached projects, BOINC style: each with its own jobs, pause and detach, and a resource
 * share: the CPU this computer gives is split between the projects that have work, by share.
 */
export function ProjectsView({ status, onAdd }: ProjectsViewProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const projects = status?.projects ?? [];
  const act = (action: () => Promise<AgentStatus>): void => {
    setBusy(true);
    setError(null);
    action()
      .catch((caught: unknown) => setError(errorMessage(caught)))
      .finally(() => setBusy(false));
  };
  return (
    <div className="projects-view" data-testid="projects">
      <p className="hint">
        Your computing preferences (CPU limit, memory, disk, when to compute) hold for all projects
        together. The CPU goes to the projects that have work, in proportion to their shares.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {projects.length === 0 ? (
        <p data-testid="no-projects">This computer is not attached to a project.</p>
      ) : (
        <ul className="project-list">
          {projects.map((project) => (
            <ProjectRow key={project.id} project={project} busy={busy} act={act} />
          ))}
        </ul>
      )}
      <button className="primary" data-testid="add-project" onClick={onAdd}>
        Add a project
      </button>
    </div>
  );
}
