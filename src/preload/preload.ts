// Runs sandboxed in the renderer before the page; bundled as CommonJS to dist/preload/preload.cjs.
import { contextBridge, ipcRenderer } from 'electron';
import { buildIpcCopilotApi } from './copilot-ipc-api';

contextBridge.exposeInMainWorld('copilot', buildIpcCopilotApi(ipcRenderer));
