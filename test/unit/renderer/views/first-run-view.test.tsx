import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { CopilotApi, DockerState } from '@copilot/contract/ui-contract';
import { CopilotContext } from '@copilot/renderer/copilot-context';
import { FirstRunView } from '@copilot/renderer/views/first-run-view';

/** The first render asks nothing of the agent (no link handed over): no command is needed. */
const api = new Proxy({} as CopilotApi, {
  get(_target, name) {
    throw new Error(`the first render called ${String(name)}`);
  },
});

function render(docker: DockerState | undefined): string {
  return renderToStaticMarkup(
    <CopilotContext.Provider value={api}>
      <FirstRunView docker={docker} />
    </CopilotContext.Provider>,
  );
}

describe('FirstRunView', () => {
  it('shows what to install, where the agent looked and Check again when no engine answers', () => {
    const html = render({
      available: false,
      message: 'No container engine (Docker or Podman) answers on this computer',
      tried: ['unix:///var/run/docker.sock: no socket'],
      hostPlatform: 'linux',
    });
    expect(html).toContain('data-testid="first-run-engine"');
    expect(html).toContain('this computer needs a container engine (Docker or Podman)');
    expect(html).toContain('No container engine found');
    expect(html).toContain('To run them on Linux:');
    expect(html).toContain('<code>unix:///var/run/docker.sock: no socket</code>');
    expect(html).toMatch(/<button[^>]*data-testid="engine-check"[^>]*>Check again<\/button>/);
    // Before the attach link: the volunteer learns it before joining.
    expect(html.indexOf('first-run-engine')).toBeLessThan(html.indexOf('Attach link from your'));
  });

  it('says nothing of the engine when one answers, or before the status is known', () => {
    const found = render({
      available: true,
      message: 'Podman 4.3.1',
      version: '4.3.1',
      engine: 'podman',
      endpoint: 'unix:///run/user/1000/podman/podman.sock',
    });
    expect(found).toContain('data-testid="first-run"');
    expect(found).not.toContain('container-engine');
    expect(render(undefined)).not.toContain('container-engine');
  });
});
