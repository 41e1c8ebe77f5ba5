import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TRAY_STATES } from '../../scripts/make-icons';

const root = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);

interface TargetList {
  target?: Array<string | { target: string }>;
  icon?: string;
  category?: string;
}
interface BuilderConfig {
  appId?: string;
  npmRebuild?: boolean;
  productName?: string;
  icon?: string;
  files?: Array<string | { filter?: string[] }>;
  extraResources?: Array<{ from: string; to: string; filter?: string[] }>;
  linux?: TargetList;
  win?: TargetList;
  mac?: TargetList;
}
type DebugLoggerClass = new (enabled: boolean) => unknown;
interface ConfigModule {
  getConfig(dir: string, path: string, fromOptions: null): Promise<BuilderConfig>;
  validateConfiguration(config: BuilderConfig, logger: unknown): Promise<void>;
}

// electron-builder's own loader and schema validation (app-builder-lib ships with electron-builder).
const { getConfig, validateConfiguration } =
  require('app-builder-lib/out/util/config/config.js') as ConfigModule;
const { DebugLogger } = require('builder-util') as { DebugLogger: DebugLoggerClass };

function targets(list: TargetList | undefined): string[] {
  return (list?.target ?? []).map((t) => (typeof t === 'string' ? t : t.target));
}

function pngSize(path: string): { width: number; height: number } {
  const bytes = readFileSync(path);
  expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('electron-builder.yml', () => {
  let config: BuilderConfig;
  beforeAll(async () => {
    config = await getConfig(root, join(root, 'electron-builder.yml'), null);
  });

  it("passes electron-builder's own schema validation", async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('the validation used here does reject a broken config', async () => {
    const broken = {
      ...config,
      linux: { ...config.linux, notAnOption: true },
    } as unknown as BuilderConfig;
    await expect(validateConfiguration(broken, new DebugLogger(false))).rejects.toThrow(/linux/);
  });

  it('names the app and targets AppImage, deb, nsis and dmg', () => {
    expect(config.appId).toBe('ch.cern.copilot.desktop');
    expect(config.productName).toBe('Co-Pilot Desktop');
    expect(targets(config.linux)).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.linux?.category).toBe('Science');
    expect(targets(config.win)).toContain('nsis');
    expect(targets(config.mac)).toContain('dmg');
  });

  it('does not rebuild native modules for Electron in the working tree', () => {
    expect(config.npmRebuild).toBe(false);
  });

  it('packages only dist/, which holds package.json main', () => {
    const patterns = (config.files ?? []).flatMap((f) =>
      typeof f === 'string' ? [f] : (f.filter ?? []),
    );
    const included = patterns.filter((p) => !p.startsWith('!'));
    expect(included).toEqual(['dist/**']);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string };
    expect(pkg.main).toBe('dist/main/main.cjs');
  });

  it('refers only to icon files that exist, with the right sizes', () => {
    for (const icon of [config.icon, config.linux?.icon, config.win?.icon, config.mac?.icon]) {
      expect(icon).toBeDefined();
      expect(existsSync(join(root, icon ?? ''))).toBe(true);
    }
    expect(pngSize(join(root, 'assets', 'icon.png'))).toEqual({ width: 512, height: 512 });
  });

  it('ships a 16 and a 32 px tray icon per state as extra resources', () => {
    const tray = config.extraResources?.find((r) => r.to === 'tray');
    expect(tray).toBeDefined();
    const dir = join(root, tray?.from ?? '');
    for (const state of TRAY_STATES) {
      expect(pngSize(join(dir, `tray-${state}.png`))).toEqual({ width: 16, height: 16 });
      expect(pngSize(join(dir, `tray-${state}@2x.png`))).toEqual({ width: 32, height: 32 });
    }
    for (const resource of config.extraResources ?? []) {
      expect(existsSync(join(root, resource.from))).toBe(true);
    }
  });
});
