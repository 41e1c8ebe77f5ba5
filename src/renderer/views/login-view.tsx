import { useState, type FormEvent } from 'react';
import { errorMessage } from '../../base/errors';

export interface LoginViewProps {
  /** Tries the token; rejects if the agent refuses it. */
  onToken(token: string): Promise<void>;
  initialError?: string | null;
}

/** Browser mode without a token: ask for the one `copilot-agent` printed or wrote to its data dir. */
export function LoginView({ onToken, initialError = null }: LoginViewProps) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(initialError);
  const [busy, setBusy] = useState(false);
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    onToken(token.trim())
      .catch((e: unknown) => setError(errorMessage(e)))
      .finally(() => setBusy(false));
  };
  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit}>
        <h1>Co-Pilot Desktop</h1>
        <p className="muted">
          Enter the GUI RPC token of the agent. <code>copilot-agent</code> prints it at start-up and
          keeps it in its data directory.
        </p>
        <label htmlFor="token">Token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          value={token}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'token-error' : undefined}
          onChange={(e) => setToken(e.target.value)}
        />
        {error && (
          <div id="token-error" className="field-error" role="alert">
            {error}
          </div>
        )}
        <button className="primary" type="submit" disabled={busy || token.trim() === ''}>
          Connect
        </button>
      </form>
    </main>
  );
}
