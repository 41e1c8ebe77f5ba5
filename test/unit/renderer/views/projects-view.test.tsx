import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { AgentStatus, CopilotApi, ProjectInfo } from '@copilot/contract/ui-contract';
import { CopilotContext } from '@copilot/renderer/copilot-context';
import { ProjectsView } from '@copilot/renderer/views/projects-view';
import { statusFixture } from '../../main/fake-agent';

/** Rendering asks nothing of the agent: any command called is a failure. */
const api = new Proxy({} as CopilotApi, {
  get(_target, name) {
    throw new Error(`the render called ${String(name)}`);
  },
});

function project(overrides: Partial<ProjectInfo>): ProjectInfo {
  return {
    id: 'main',
    name: 'First',
    manager: 'jm@one.example',
    jid: 'v1@one.example/agent',
    activity: 'running',
    statusLine: 'Running job 42 (3 min)',
    paused: false,
    share: 100,
    cpuShare: 0.125,
    jobs: { running: 1, done: 7 },
    detaching: false,
    ...overrides,
  };
}

function render(status: AgentStatus | null): string {
  return renderToStaticMarkup(
    <CopilotContext.Provider value={api}>
      <ProjectsView status={status} onAdd={() => undefined} />
    </CopilotContext.Provider>,
  );
}

describe('ProjectsView', () => {
  it('lists each project with its state, jobs, CPU, share, pause and detach', () => {
    const html = render(
      statusFixture({
        projects: [
          project({}),
          project({
            id: 'ab12cd34',
            name: 'Second',
            paused: true,
            activity: 'paused',
            statusLine: 'Paused',
            share: 300,
            cpuShare: 0.375,
            jobs: { running: 0, done: 2 },
          }),
        ],
      }),
    );
    const first = html.slice(html.indexOf('data-testid="project-main"'), html.indexOf('ab12cd34'));
    const second = html.slice(html.indexOf('data-testid="project-ab12cd34"'));
    expect(first).toContain('<h2>First</h2>');
    expect(first).toContain('Running job 42 (3 min)');
    expect(first).toContain('1 running, 7 done');
    expect(first).toContain('up to 13 % of this computer');
    expect(first).toContain('data-testid="project-pause"');
    // A running job: detaching may finish it, or abort it.
    expect(first).toContain('data-testid="project-detach-abort"');
    expect(second).toContain('<h2>Second</h2>');
    expect(second).toMatch(/data-testid="project-share" value="300"/);
    expect(second).toContain('data-testid="project-resume"');
    expect(second).not.toContain('data-testid="project-pause"');
    expect(second).not.toContain('project-detach-abort');
    expect(html).toMatch(/<button[^>]*data-testid="add-project"[^>]*>Add a project<\/button>/);
  });

  it('says when no project is attached, and shows a detach under way with its buttons off', () => {
    expect(render(statusFixture({ projects: [] }))).toContain('not attached to a project');
    expect(render(null)).toContain('data-testid="no-projects"');
    const detaching = render(statusFixture({ projects: [project({ detaching: true })] }));
    expect(detaching).toContain('Detaching: finishing its jobs');
    expect(detaching).toMatch(/<button[^>]*disabled=""[^>]*data-testid="project-detach"/);
  });
});
