import type { DockerState } from '../../contract/ui-contract';

/** What to install, for the agent's OS (DockerState.hostPlatform, Node's process.platform). */
export interface EngineInstallAdvice {
  os: string;
  steps: Array<{ text: string; command?: string; link?: { href: string; label: string } }>;
}

const DOCKER_DESKTOP = 'https://docs.docker.com/desktop/';
const PODMAN_INSTALL = 'https://podman.io/docs/installation';
const DOCKER_LINUX = 'https://docs.docker.com/engine/install/';

export function engineInstallAdvice(platform: string | undefined): EngineInstallAdvice {
  switch (platform) {
    case 'win32':
      return {
        os: 'Windows',
        steps: [
          {
            text: 'Install Docker Desktop for Windows and start it (it uses WSL 2).',
            link: {
              href: `${DOCKER_DESKTOP}setup/install/windows-install/`,
              label: 'Docker Desktop for Windows',
            },
          },
          {
            text: 'Or install Podman Desktop and start its Podman machine.',
            link: { href: PODMAN_INSTALL, label: 'Podman for Windows' },
          },
        ],
      };
    case 'darwin':
      return {
        os: 'macOS',
        steps: [
          {
            text: 'Install Docker Desktop for Mac and start it.',
            link: {
              href: `${DOCKER_DESKTOP}setup/install/mac-install/`,
              label: 'Docker Desktop for Mac',
            },
          },
          {
            text: 'Or install Podman and start its machine:',
            command: 'brew install podman && podman machine init && podman machine start',
            link: { href: PODMAN_INSTALL, label: 'Podman for macOS' },
          },
        ],
      };
    case 'linux':
      return {
        os: 'Linux',
        steps: [
          {
            text: 'Install Docker from your distribution (Debian, Ubuntu) and allow your user to use it, then log in again:',
            command: 'sudo apt install docker.io && sudo usermod -aG docker $USER',
            link: { href: DOCKER_LINUX, label: 'Docker Engine on Linux' },
          },
          {
            text: 'Or Podman, without root: install it and start its Docker-compatible socket:',
            command: 'sudo apt install podman && systemctl --user enable --now podman.socket',
            link: { href: PODMAN_INSTALL, label: 'Podman on Linux' },
          },
        ],
      };
    default:
      return {
        os: 'this computer',
        steps: [
          {
            text: 'Install Docker or Podman and start it.',
            link: { href: PODMAN_INSTALL, label: 'Podman installation' },
          },
        ],
      };
  }
}

export interface ContainerEnginePanelProps {
  state: DockerState;
  /** "Check again": looks for the engine at once (checkContainerEngine). */
  onCheck(): void;
  checking: boolean;
}

/**
 * The container engine: which one runs the jobs and where, or, when none answers, what to
 * install for this OS, where the agent looked, and "Check again".
 */
export function ContainerEnginePanel({ state, onCheck, checking }: ContainerEnginePanelProps) {
  const name = state.engine === 'podman' ? 'Podman' : 'Docker';
  if (state.available) {
    return (
      <section className="card" data-testid="container-engine">
        <h3>Container engine</h3>
        <p>
          <span className="dot dot-ok" />
          <span data-testid="engine-name">{name}</span>
          {state.version ? ` ${state.version}` : ''}
        </p>
        {state.endpoint && (
          <p className="muted">
            at <code>{state.endpoint}</code>
          </p>
        )}
      </section>
    );
  }
  const advice = engineInstallAdvice(state.hostPlatform);
  return (
    <section className="card engine-missing" data-testid="container-engine">
      <h3>Container engine</h3>
      <p>
        <span className="dot dot-bad" />
        <span data-testid="engine-missing">No container engine found</span>
      </p>
      <p className="muted">{state.message}</p>
      <p>Jobs run in containers. To run them on {advice.os}:</p>
      <ul data-testid="engine-advice">
        {advice.steps.map((step) => (
          <li key={step.text}>
            {step.text}
            {step.command && (
              <>
                {' '}
                <code>{step.command}</code>
              </>
            )}
            {step.link && (
              <>
                {' '}
                <a href={step.link.href} target="_blank" rel="noreferrer">
                  {step.link.label}
                </a>
              </>
            )}
          </li>
        ))}
      </ul>
      {state.tried && state.tried.length > 0 && (
        <details>
          <summary>Where the agent looked</summary>
          <ul data-testid="engine-tried">
            {state.tried.map((place) => (
              <li key={place}>
                <code>{place}</code>
              </li>
            ))}
          </ul>
        </details>
      )}
      <button className="primary" disabled={checking} onClick={onCheck} data-testid="engine-check">
        {checking ? 'Checking…' : 'Check again'}
      </button>
    </section>
  );
}
