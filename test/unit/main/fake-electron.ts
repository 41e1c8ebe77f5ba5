/**
 * A stand-in for the `electron` module in unit tests of src/main (the real binary is not
 * installed here, and unit tests must not open windows). Each test file does
 * `vi.mock('electron', () => import('./fake-electron'))` and inspects `fake` below.
 */
import { EventEmitter } from 'node:events';
import type { MenuItemConstructorOptions } from 'electron';
import { vi } from 'vitest';

export class FakeWebContents extends EventEmitter {
  readonly sent: Array<{ channel: string; payload: unknown }> = [];
  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload });
  }
  setWindowOpenHandler = vi.fn();
}

export class FakeBrowserWindow extends EventEmitter {
  static instances: FakeBrowserWindow[] = [];
  readonly webContents = new FakeWebContents();
  visible = false;
  destroyed = false;
  minimized = false;
  loaded: { url?: string; file?: string } = {};
  show = vi.fn(() => {
    this.visible = true;
  });
  hide = vi.fn(() => {
    this.visible = false;
  });
  focus = vi.fn();
  restore = vi.fn(() => {
    this.minimized = false;
  });
  constructor(readonly options: Record<string, unknown>) {
    super();
    FakeBrowserWindow.instances.push(this);
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  loadURL(url: string): Promise<void> {
    this.loaded = { url };
    return Promise.resolve();
  }
  loadFile(file: string): Promise<void> {
    this.loaded = { file };
    return Promise.resolve();
  }
  /** What a user clicking the window's close button does; returns whether it was prevented. */
  userCloses(): boolean {
    let prevented = false;
    this.emit('close', { preventDefault: () => (prevented = true) });
    if (!prevented) this.destroyed = true;
    return prevented;
  }
}

export class FakeTray extends EventEmitter {
  static instances: FakeTray[] = [];
  image: string;
  tooltip = '';
  menu: MenuItemConstructorOptions[] = [];
  destroyed = false;
  constructor(image: string) {
    super();
    this.image = image;
    FakeTray.instances.push(this);
  }
  /** Electron throws when a destroyed tray is used. */
  private alive(): void {
    if (this.destroyed) throw new TypeError('Object has been destroyed');
  }
  setImage(image: string): void {
    this.alive();
    this.image = image;
  }
  setToolTip(tooltip: string): void {
    this.alive();
    this.tooltip = tooltip;
  }
  setContextMenu(menu: { template: MenuItemConstructorOptions[] }): void {
    this.alive();
    this.menu = menu.template;
  }
  destroy(): void {
    this.destroyed = true;
  }
  item(id: string): MenuItemConstructorOptions | undefined {
    return this.menu.find((entry) => entry.id === id);
  }
  /** Clicks a menu item as Electron would (the click handler ignores its arguments here). */
  click(id: string): void {
    const entry = this.item(id);
    if (!entry?.click) throw new Error(`no clickable tray menu item '${id}'`);
    (entry.click as () => void)();
  }
}

/** Electron's Notification: records what was shown. */
export class FakeNotification extends EventEmitter {
  static shown: FakeNotification[] = [];
  static supported = true;
  static isSupported(): boolean {
    return FakeNotification.supported;
  }
  constructor(readonly options: { title: string; body: string; icon?: string }) {
    super();
  }
  show(): void {
    FakeNotification.shown.push(this);
  }
}

type Handler = (event: { sender: unknown }, ...args: unknown[]) => unknown;

/**
 * Electron's safeStorage: a reversible stand-in whose ciphertext never contains the plain text
 * (each byte XORed, behind a marker). Like Electron, it throws when encryption is unavailable
 * and when the bytes are not its own.
 */
export class FakeSafeStorage {
  available = true;
  backend: 'basic_text' | 'gnome_libsecret' | 'kwallet' | 'kwallet5' | 'kwallet6' | 'unknown' =
    'gnome_libsecret';
  static readonly MARKER = Buffer.from('v10');
  isEncryptionAvailable = vi.fn(() => this.available);
  getSelectedStorageBackend = vi.fn(() => this.backend);
  encryptString = vi.fn((plainText: string): Buffer => {
    if (!this.available) throw new Error('Encryption is not available.');
    const bytes = Buffer.from(plainText, 'utf8').map((byte) => byte ^ 0x5a);
    return Buffer.concat([FakeSafeStorage.MARKER, bytes]);
  });
  decryptString = vi.fn((encrypted: Buffer): string => {
    if (!this.available) throw new Error('Decryption is not available.');
    if (!encrypted.subarray(0, 3).equals(FakeSafeStorage.MARKER)) {
      throw new Error(
        'Error while decrypting the ciphertext provided to safeStorage.decryptString.',
      );
    }
    return Buffer.from(encrypted.subarray(3).map((byte) => byte ^ 0x5a)).toString('utf8');
  });
  reset(): void {
    this.available = true;
    this.backend = 'gnome_libsecret';
    this.isEncryptionAvailable.mockClear();
    this.encryptString.mockClear();
    this.decryptString.mockClear();
  }
}

class FakeApp extends EventEmitter {
  hasLock = true;
  requestSingleInstanceLock = vi.fn(() => this.hasLock);
  whenReady = vi.fn(() => Promise.resolve());
  quit = vi.fn(() => {
    let prevented = false;
    this.emit('before-quit', { preventDefault: () => (prevented = true) });
    if (!prevented) this.quitted = true;
  });
  quitted = false;
  exit = vi.fn();
  setLoginItemSettings = vi.fn();
  setAsDefaultProtocolClient = vi.fn((_protocol: string) => true);
  isReady = vi.fn(() => true);
  getVersion = vi.fn(() => '0.1.0');
  getAppPath = vi.fn(() => '/app');
  getPath = vi.fn(() => '/tmp/userData');
  isPackaged = false;
}

export const fake = {
  app: new FakeApp(),
  handlers: new Map<string, Handler>(),
  idleSeconds: 0,
  safeStorage: new FakeSafeStorage(),
  reset(): void {
    fake.safeStorage.reset();
    fake.app.removeAllListeners();
    fake.app.hasLock = true;
    fake.app.quitted = false;
    fake.app.quit.mockClear();
    fake.app.setLoginItemSettings.mockClear();
    fake.app.requestSingleInstanceLock.mockClear();
    fake.handlers.clear();
    fake.idleSeconds = 0;
    FakeBrowserWindow.instances = [];
    FakeTray.instances = [];
    FakeNotification.shown = [];
    FakeNotification.supported = true;
  },
  /** Calls an ipcMain.handle handler as a renderer would. */
  invoke(channel: string, sender: unknown, ...args: unknown[]): unknown {
    const handler = fake.handlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return handler({ sender }, ...args);
  },
};

export const app = fake.app;
export const BrowserWindow = FakeBrowserWindow;
export const Tray = FakeTray;
export const Menu = {
  buildFromTemplate: (template: MenuItemConstructorOptions[]) => ({ template }),
};
export const ipcMain = {
  handle: vi.fn((channel: string, handler: Handler) => {
    if (fake.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    fake.handlers.set(channel, handler);
  }),
  removeHandler: vi.fn((channel: string) => fake.handlers.delete(channel)),
};
export const powerMonitor = { getSystemIdleTime: () => fake.idleSeconds };
export const shell = { openExternal: vi.fn(() => Promise.resolve()) };
export const safeStorage = fake.safeStorage;
export const Notification = FakeNotification;

export default {
  app,
  BrowserWindow,
  Tray,
  Menu,
  ipcMain,
  powerMonitor,
  shell,
  safeStorage,
  Notification,
};
