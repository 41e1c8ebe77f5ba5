import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { DockerState } from '@copilot/contract/ui-contract';
import {
  ContainerEnginePanel,
  engineInstallAdvice,
} from '@copilot/renderer/components/container-engine-panel';

function render(state: DockerState, checking = false): string {
  return renderToStaticMarkup(
    <ContainerEnginePanel state={state} checking={checking} onCheck={() => undefined} />,
  );
}

const NONE: DockerState = {
  available: false,
  message: 'No container engine (Docker or Podman) answers on this computer',
  tried: ['unix:///var/run/docker.sock: no socket', 'unix:///run/podman/podman.sock: refused'],
  hostPlatform: 'linux',
};

describe('ContainerEnginePanel', () => {
  it('names the engine found and where it answered', () => {
    const html = render({
      available: true,
      message: 'Podman 4.3.1',
      version: '4.3.1',
      engine: 'podman',
      endpoint: 'unix:///run/user/1000/podman/podman.sock',
    });
    expect(html).toContain('<span data-testid="engine-name">Podman</span> 4.3.1');
    expect(html).toContain('<code>unix:///run/user/1000/podman/podman.sock</code>');
    expect(html).not.toContain('Check again');
    expect(render({ available: true, message: 'Docker 27.1', version: '27.1' })).toContain(
      '<span data-testid="engine-name">Docker</span> 27.1',
    );
  });

  it('on Linux without an engine: the apt commands, links, where it looked and Check again', () => {
    const html = render(NONE);
    expect(html).toContain('No container engine found');
    expect(html).toContain('To run them on Linux:');
    expect(html).toContain(
      '<code>sudo apt install docker.io &amp;&amp; sudo usermod -aG docker $USER</code>',
    );
    expect(html).toContain(
      '<code>sudo apt install podman &amp;&amp; systemctl --user enable --now podman.socket</code>',
    );
    expect(html).toContain('href="https://podman.io/docs/installation"');
    expect(html).toContain('<code>unix:///run/podman/podman.sock: refused</code>');
    expect(html).toMatch(/<button[^>]*data-testid="engine-check"[^>]*>Check again<\/button>/);
    // While a check runs the button says so and cannot be pressed twice.
    expect(render(NONE, true)).toMatch(/<button[^>]*disabled=""[^>]*>Checking…<\/button>/);
  });

  it('on Windows and macOS: Docker Desktop with its link, or Podman', () => {
    const windows = render({ ...NONE, hostPlatform: 'win32', tried: [] });
    expect(windows).toContain('To run them on Windows:');
    expect(windows).toContain(
      'href="https://docs.docker.com/desktop/setup/install/windows-install/"',
    );
    expect(windows).not.toContain('Where the agent looked');
    const mac = render({ ...NONE, hostPlatform: 'darwin' });
    expect(mac).toContain('To run them on macOS:');
    expect(mac).toContain('href="https://docs.docker.com/desktop/setup/install/mac-install/"');
    expect(mac).toContain('podman machine init');
  });

  it('says what DOCKER_HOST problem stops it, in the message', () => {
    const html = render({
      available: false,
      message: 'DOCKER_HOST=ssh://h: Co-Pilot does not speak to a container engine over ssh.',
      tried: [],
      hostPlatform: 'linux',
    });
    expect(html).toContain('DOCKER_HOST=ssh://h: Co-Pilot does not speak');
  });

  it('has advice for every OS, and a general one for others', () => {
    for (const platform of ['linux', 'darwin', 'win32']) {
      const advice = engineInstallAdvice(platform);
      expect(advice.steps.length).toBeGreaterThan(1);
      for (const step of advice.steps) expect(step.link?.href).toMatch(/^https:\/\//);
    }
    expect(engineInstallAdvice('freebsd').os).toBe('this computer');
    expect(engineInstallAdvice(undefined).steps).toHaveLength(1);
  });
});
