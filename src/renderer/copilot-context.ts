import { createContext, useContext } from 'react';
import type { CopilotApi } from '../contract/ui-contract';

export const CopilotContext = createContext<CopilotApi | null>(null);

/** The `window.copilot` the app was started with (IPC in Electron, HTTP in a browser). */
export function useCopilot(): CopilotApi {
  const api = useContext(CopilotContext);
  if (!api) throw new Error('useCopilot outside <CopilotContext.Provider>');
  return api;
}
