import { useEffect, useState, type FormEvent } from 'react';
import type { AttachPreview, DockerState } from '../../contract/ui-contract';
import { errorMessage } from '../../base/errors';
import { useCopilot } from '../copilot-context';
import { ContainerEnginePanel } from '../components/container-engine-panel';
import './first-run-view.css';

export interface FirstRunViewProps {
  /** A link handed over by the desktop's copilot:// handler, to preview at once. */
  initialLink?: string;
  /** "Set up by hand": the settings form, for a project without attach links. */
  onManualSetup?: () => void;
  /** Shown with a project attached: a Cancel back to the app. */
  onCancel?: () => void;
  /** The project was joined: back to the app. */
  onJoined?: () => void;
  /** The container engine as the agent last found it; none answering shows what to install. */
  docker?: DockerState;
}

function PreviewCard({ preview }: { preview: AttachPreview }) {
  return (
    <section className="card" aria-label="What this project may do" data-testid="attach-preview">
      <h2>{preview.projectName}</h2>
      <ul className="attach-facts">
        <li>
          Jobs come from <strong>{preview.managers.join(', ')}</strong>, through the server{' '}
          <code>{preview.xmppServer}</code> (domain <code>{preview.xmppDomain}</code>). A new
          account is made for this computer there.
        </li>
        <li>
          {preview.caFingerprint256
            ? `The connection is encrypted and trusts only the project's certificate authority (SHA-256 ${preview.caFingerprint256.slice(0, 16)}…).`
            : 'The connection is encrypted, with a publicly signed certificate.'}
        </li>
        <li>
          {preview.secureMode
            ? "Secure mode: job messages are encrypted for the manager's key in this link, so only the manager holding it can read them or hand this computer work."
            : "No secure mode (the link has no manager key): work is taken from the manager's account only."}
        </li>
        <li>
          {preview.allowedImageRegistries.length > 0
            ? `Job images may be pulled from: ${preview.allowedImageRegistries.join(', ')}.`
            : 'Jobs run only in the built-in image; nothing else is pulled.'}
        </li>
        {preview.adminAccounts.length > 0 && (
          <li>
            {preview.adminAccounts.join(', ')} may ask this computer to drain, pause or resume.
          </li>
        )}
        {preview.monitorAddresses.length > 0 && (
          <li>This computer reports its load and jobs to {preview.monitorAddresses.join(', ')}.</li>
        )}
        {preview.replacesProject && (
          <li className="error">
            It replaces the project you have now: {preview.replacesProject}.
          </li>
        )}
      </ul>
    </section>
  );
}

/** First run: what will happen on this computer, a pasted attach link, its preview, Accept. */
export function FirstRunView({
  initialLink = '',
  onManualSetup,
  onCancel,
  onJoined,
  docker,
}: FirstRunViewProps) {
  const api = useCopilot();
  const [checking, setChecking] = useState(false);
  const checkEngine = (): void => {
    setChecking(true);
    // The answer also comes as a status event, which brings the new DockerState here.
    api
      .checkContainerEngine()
      .catch((e: unknown) => setError(errorMessage(e)))
      .finally(() => setChecking(false));
  };
  const [link, setLink] = useState(initialLink);
  /** The preview and its link: Accept joins that link, never an edit made after previewing. */
  const [shown, setShown] = useState<{ link: string; preview: AttachPreview } | null>(null);
  const preview = shown?.preview ?? null;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [joined, setJoined] = useState<string | null>(null);

  const show = (text: string): void => {
    setBusy(true);
    setError(null);
    setShown(null);
    api
      .previewAttachLink(text.trim())
      .then((answer) => setShown({ link: text.trim(), preview: answer }))
      .catch((e: unknown) => setError(errorMessage(e)))
      .finally(() => setBusy(false));
  };
  useEffect(() => {
    if (initialLink === '') return;
    // The link the copilot:// handler handed over is previewed at once.
    api
      .previewAttachLink(initialLink.trim())
      .then((answer) => setShown({ link: initialLink.trim(), preview: answer }))
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [api, initialLink]);

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    show(link);
  };
  const accept = (): void => {
    setBusy(true);
    setError(null);
    api
      .attachProject(shown?.link ?? '')
      .then((result) => {
        if (!result.ok) {
          setError(result.error);
          return;
        }
        setJoined(`Joined ${result.projectName} as ${result.jid}.`);
        onJoined?.();
      })
      .catch((e: unknown) => setError(errorMessage(e)))
      .finally(() => setBusy(false));
  };

  return (
    <main className="first-run" data-testid="first-run">
      <div className="stack first-run-body">
        <h1>Join a project</h1>
        <section className="card">
          <p>What happens on this computer:</p>
          <ul>
            <li>
              Co-Pilot runs a science project&apos;s jobs in containers, with the CPU, memory and
              disk you allow in Settings, and only when you let it (by default while you are away).
            </li>
            <li>
              Jobs cannot see your files, and they get no network unless you allow it. You can
              pause, stop a job, or leave the project at any time.
            </li>
            <li>
              Joining creates an account for this computer on the project&apos;s server; its
              password stays on this computer.
            </li>
          </ul>
        </section>
        {docker && !docker.available && (
          <div data-testid="first-run-engine">
            <p>
              Before joining: this computer needs a container engine (Docker or Podman) to run jobs,
              and none answers yet. You can join now; jobs start once one runs.
            </p>
            <ContainerEnginePanel state={docker} checking={checking} onCheck={checkEngine} />
          </div>
        )}
        <form className="card" onSubmit={submit}>
          <label htmlFor="attach-link">Attach link from your project</label>
          <textarea
            id="attach-link"
            rows={3}
            spellCheck={false}
            placeholder="copilot://attach?v=1&…"
            value={link}
            onChange={(e) => {
              setLink(e.target.value);
              // An edited link must be previewed again before it can be accepted.
              setShown(null);
            }}
          />
          <div className="form-actions">
            <button type="submit" disabled={busy || link.trim() === ''}>
              Show what it does
            </button>
            {onManualSetup && (
              <button type="button" onClick={onManualSetup}>
                Set up by hand
              </button>
            )}
            {onCancel && (
              <button type="button" onClick={onCancel}>
                Cancel
              </button>
            )}
          </div>
        </form>
        {preview && <PreviewCard preview={preview} />}
        {preview && !joined && (
          <div className="form-actions">
            <button className="primary" disabled={busy} onClick={accept}>
              {busy ? 'Joining…' : `Accept and join ${preview.projectName}`}
            </button>
          </div>
        )}
        {joined && (
          <p className="notice-ok" role="status">
            {joined}
          </p>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </div>
    </main>
  );
}
