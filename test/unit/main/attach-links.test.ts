import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  ATTACH_SCHEME,
  attachLinkInArgv,
  loadWithAttachLink,
  registerAttachLinks,
  type ProtocolApp,
} from '@copilot/main/attach-links';

const LINK = 'copilot://attach?v=1&name=Test&invite=abcdefgh12';

class FakeApp extends EventEmitter {
  setAsDefaultProtocolClient = vi.fn((_protocol: string, _path?: string, _args?: string[]) => true);
}

describe('copilot:// attach links in the desktop app', () => {
  it('finds the link among a second instance’s arguments, nothing else', () => {
    expect(attachLinkInArgv(['/opt/Co-Pilot/copilot', '--hidden', LINK])).toBe(LINK);
    expect(attachLinkInArgv(['/opt/Co-Pilot/copilot', 'https://example.org'])).toBeUndefined();
    expect(attachLinkInArgv(['copilot://detach?x'])).toBeUndefined();
    expect(attachLinkInArgv([`${LINK}${'a'.repeat(20_000)}`])).toBeUndefined();
  });

  it('registers the scheme and hands over open-url links (macOS), ignoring other URLs', () => {
    const app = new FakeApp();
    const opened: string[] = [];
    registerAttachLinks(app as unknown as ProtocolApp, (link) => opened.push(link));
    expect(app.setAsDefaultProtocolClient).toHaveBeenCalledWith('copilot');
    const preventDefault = vi.fn();
    app.emit('open-url', { preventDefault }, LINK);
    app.emit('open-url', { preventDefault }, 'copilot://settings');
    expect(opened).toEqual([LINK]);
    expect(preventDefault).toHaveBeenCalledTimes(2);
  });

  it('registers a development run with its script', () => {
    const app = new FakeApp();
    registerAttachLinks(app as unknown as ProtocolApp, () => undefined, {
      execPath: '/usr/bin/electron',
      script: '/src/app',
    });
    expect(app.setAsDefaultProtocolClient).toHaveBeenCalledWith('copilot', '/usr/bin/electron', [
      '/src/app',
    ]);
  });

  it('loads the renderer with the link in the address, encoded, for the first-run screen', async () => {
    const window = {
      loadURL: vi.fn(() => Promise.resolve()),
      loadFile: vi.fn(() => Promise.resolve()),
    };
    await loadWithAttachLink(window, { file: '/app/index.html' }, LINK);
    expect(window.loadFile).toHaveBeenCalledWith('/app/index.html', {
      hash: `attach=${encodeURIComponent(LINK)}`,
    });
    await loadWithAttachLink(window, { url: 'http://localhost:5173/#old' }, LINK);
    expect(window.loadURL).toHaveBeenCalledWith(
      `http://localhost:5173/#attach=${encodeURIComponent(LINK)}`,
    );
    expect(decodeURIComponent(encodeURIComponent(LINK))).toBe(LINK);
  });

  it('is the scheme the installers register (electron-builder.yml protocols)', () => {
    const config = fs.readFileSync(
      path.join(import.meta.dirname, '../../../electron-builder.yml'),
      'utf8',
    );
    expect(config).toMatch(
      new RegExp(`^protocols:\\n(?:\\s+.*\\n)*?\\s+schemes:\\n\\s+- ${ATTACH_SCHEME}$`, 'm'),
    );
  });
});
