// electron-builder.yml as electron-builder itself reads it: its config loader and JSON-schema
// validation, and the Linux .desktop entry computed by its own LinuxTargetHelper (the one the
// AppImage and deb get). Electron's binary is not downloadable here, so no package is built.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DebugLogger } from 'builder-util';
import type { Configuration, LinuxPackager } from 'app-builder-lib';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { LinuxTargetHelper } from 'app-builder-lib/out/targets/LinuxTargetHelper';

const ROOT = path.resolve(import.meta.dirname, '../..');

function loadConfig(): Promise<Configuration> {
  return getConfig(ROOT, path.join(ROOT, 'electron-builder.yml'), null);
}

/** The parts of a LinuxPackager that computeDesktopEntry reads. */
function fakeLinuxPackager(config: Configuration): LinuxPackager {
  const packager = {
    config,
    platformSpecificBuildOptions: config.linux ?? {},
    executableName: 'copilot-desktop',
    fileAssociations: [],
    appInfo: {
      productName: config.productName,
      sanitizedProductName: config.productName,
      description: 'Volunteer computing',
    },
    info: { metadata: { desktopName: undefined } },
  };
  return packager as unknown as LinuxPackager;
}

describe('electron-builder.yml', () => {
  it('passes electron-builder’s own schema validation', async () => {
    const config = await loadConfig();
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('fails that validation for a misspelt key (the check is not a no-op)', async () => {
    const config = { ...(await loadConfig()), protocol: [] } as Configuration;
    await expect(validateConfiguration(config, new DebugLogger(false))).rejects.toThrow(/protocol/);
  });

  it('targets AppImage and deb on Linux, NSIS on Windows, dmg on macOS', async () => {
    const config = await loadConfig();
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.win?.target).toEqual(['nsis']);
    expect(config.mac?.target).toEqual(['dmg']);
  });

  it('registers copilot:// and puts the scheme handler into the Linux desktop entry', async () => {
    const config = await loadConfig();
    const schemes = [config.protocols ?? []].flat().flatMap((p) => [p.schemes].flat());
    expect(schemes).toEqual(['copilot']);
    const helper = new LinuxTargetHelper(fakeLinuxPackager(config));
    const entry = await helper.computeDesktopEntry(config.linux ?? {});
    expect(entry).toMatch(/^MimeType=x-scheme-handler\/copilot;$/m);
    // %U: the link reaches the app as an argument (src/main/attach-links.ts reads argv).
    expect(entry).toMatch(/^Exec=.* %U$/m);
  });

  it('packs only the bundles: no sources, tests, source maps or command-line bins', async () => {
    const config = await loadConfig();
    // getConfig normalises `files` into file sets ({ filter: [...] }).
    const files = [config.files ?? []]
      .flat()
      .flatMap((entry) => (typeof entry === 'string' ? [entry] : [entry.filter ?? []].flat()));
    const included = files.filter((pattern) => !pattern.startsWith('!'));
    expect(included).toEqual(['dist/**']);
    expect(files).toEqual(expect.arrayContaining(['!dist/**/*.map', '!dist/bin/**']));
  });
});
