import type { CopilotApi } from '../contract/ui-contract';
import { createHttpCopilotApi } from './http-copilot-api';

const TOKEN_KEY = 'copilot-token';

/**
 * In a plain browser there is no preload: the token comes from the URL fragment
 * (`#token=…`, which is never sent to a server), then from this tab's session storage.
 * The fragment is removed from the address bar once read.
 */
export function readBrowserToken(): string | null {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match?.[1]) {
    const token = decodeURIComponent(match[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function rememberBrowserToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetBrowserToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The HTTP CopilotApi against the agent that served this page. */
export function browserCopilotApi(token: string): CopilotApi {
  return createHttpCopilotApi(window.location.origin, token);
}
