/**
 * The desktop's copilot:// protocol handler: an attach link opened in a browser or a mail
 * (copilot://attach?v=1&…) starts the app, or reaches the running one, and the window shows the
 * first-run screen's preview of it (the renderer reads `#attach=<link>` from its address). The
 * link is only shown here; the agent parses and checks it when the volunteer accepts.
 *
 * macOS delivers it as `open-url`; Windows and Linux start a second instance with the link among
 * its arguments, which the single-instance lock turns into `second-instance` with that argv.
 * electron-builder.yml registers the scheme with the installers (`protocols`).
 */
import type { RendererSource } from './main-window';

export const ATTACH_SCHEME = 'copilot';
const PREFIX = `${ATTACH_SCHEME}://attach?`;
/** As the protocol layer's MAX_ATTACH_LINK_LENGTH: a longer argument is not looked at. */
const MAX_LINK_LENGTH = 16_384;

/** The attach link among a process's arguments, if one is there. */
export function attachLinkInArgv(argv: readonly string[]): string | undefined {
  return argv.find((arg) => arg.length <= MAX_LINK_LENGTH && arg.toLowerCase().startsWith(PREFIX));
}

/** The part of Electron's app this module uses. */
export interface ProtocolApp {
  setAsDefaultProtocolClient(protocol: string, path?: string, args?: string[]): boolean;
  on(
    event: 'open-url',
    listener: (event: { preventDefault(): void }, url: string) => void,
  ): unknown;
}

/**
 * Registers the copilot:// scheme with the OS (for a packaged app; a development run started as
 * `electron .` passes its script, as Electron's docs say) and calls `open` with every link
 * macOS hands over.
 */
export function registerAttachLinks(
  app: ProtocolApp,
  open: (link: string) => void,
  dev?: { execPath: string; script: string },
): void {
  if (dev) app.setAsDefaultProtocolClient(ATTACH_SCHEME, dev.execPath, [dev.script]);
  else app.setAsDefaultProtocolClient(ATTACH_SCHEME);
  app.on('open-url', (event, url) => {
    event.preventDefault();
    if (attachLinkInArgv([url])) open(url);
  });
}

/** The part of a BrowserWindow this module uses. */
export interface LoadableWindow {
  loadURL(url: string): Promise<void>;
  loadFile(file: string, options?: { hash?: string }): Promise<void>;
}

/** Loads the renderer with the link in its address: the first-run screen previews it. */
export function loadWithAttachLink(
  window: LoadableWindow,
  renderer: RendererSource,
  link: string,
): Promise<void> {
  const hash = `attach=${encodeURIComponent(link)}`;
  if ('url' in renderer) return window.loadURL(`${renderer.url.replace(/#.*$/, '')}#${hash}`);
  return window.loadFile(renderer.file, { hash });
}
