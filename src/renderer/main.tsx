import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { CopilotApi } from '../contract/ui-contract';
import { App } from './app';
import {
  browserCopilotApi,
  forgetBrowserToken,
  readBrowserToken,
  rememberBrowserToken,
} from './browser-api';
import { CopilotContext } from './copilot-context';
import { errorMessage } from '../base/errors';
import { LoginView } from './views/login-view';
import './styles.css';

/** Checks a token by asking for the status; on success installs the API as window.copilot. */
async function connect(token: string): Promise<CopilotApi> {
  const api = browserCopilotApi(token);
  await api.getStatus();
  window.copilot = api;
  rememberBrowserToken(token);
  return api;
}

function Root({
  initial,
  initialError,
}: {
  initial: CopilotApi | null;
  initialError: string | null;
}) {
  const [api, setApi] = useState<CopilotApi | null>(initial);
  if (!api) {
    return (
      <LoginView
        initialError={initialError}
        onToken={async (token) => {
          try {
            setApi(await connect(token));
          } catch (error) {
            forgetBrowserToken();
            throw error;
          }
        }}
      />
    );
  }
  return (
    <CopilotContext.Provider value={api}>
      <App />
    </CopilotContext.Provider>
  );
}

async function boot(): Promise<void> {
  const element = document.getElementById('root');
  if (!element) throw new Error('no #root element');
  // Electron's preload installs window.copilot; a plain browser talks HTTP to copilot-agent.
  let api: CopilotApi | null = (window as Partial<Window>).copilot ?? null;
  let error: string | null = null;
  if (!api) {
    const token = readBrowserToken();
    if (token) {
      try {
        api = await connect(token);
      } catch (e) {
        forgetBrowserToken();
        error = `The agent refused the saved token: ${errorMessage(e)}`;
      }
    }
  }
  createRoot(element).render(
    <StrictMode>
      <Root initial={api} initialError={error} />
    </StrictMode>,
  );
}

void boot();
