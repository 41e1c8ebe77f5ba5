import { BrowserWindow, shell } from 'electron';

/** Where the renderer comes from: the vite dev server in development, the built files otherwise. */
export type RendererSource = { url: string } | { file: string };

export interface MainWindowOptions {
  preloadPath: string;
  renderer: RendererSource;
  iconPath: string;
  /** True once the user chose Quit: then closing really closes. */
  isQuitting(): boolean;
  show: boolean;
}

/** The one window. Closing it hides it: the app lives on in the tray until Quit. */
export function createMainWindow(options: MainWindowOptions): BrowserWindow {
  const window = new BrowserWindow({
    width: 980,
    height: 700,
    minWidth: 640,
    minHeight: 480,
    show: false,
    title: 'Co-Pilot Desktop',
    icon: options.iconPath,
    autoHideMenuBar: true,
    webPreferences: {
      preload: options.preloadPath,
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
    },
  });
  window.on('close', (event) => {
    if (options.isQuitting()) return;
    event.preventDefault();
    window.hide();
  });
  window.once('ready-to-show', () => {
    if (options.show) window.show();
  });
  // Links open in the user's browser; the window never navigates away from the UI.
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:/.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  if ('url' in options.renderer) void window.loadURL(options.renderer.url);
  else void window.loadFile(options.renderer.file);
  return window;
}

export function showWindow(window: BrowserWindow): void {
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}
