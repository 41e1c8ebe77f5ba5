// Bundles the Electron main process to <outDir>/main/main.cjs and the preload to
// <outDir>/preload/preload.cjs (CommonJS: a sandboxed preload cannot load ES modules).
// `electron` is provided at run time; dockerode (optional native ssh2/cpu-features) stays
// external and ships from node_modules (electron-builder always adds production dependencies).
// Pure-JS dependencies such as electron-store (ESM only) are bundled in.
//   npx tsx scripts/build-electron.ts [--watch]
import { build, context, type BuildOptions } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const MAIN_EXTERNALS = ['electron', 'dockerode', 'ssh2', 'cpu-features', 'better-sqlite3'];

export function electronBuildTargets(outDir = join(root, 'dist')): BuildOptions[] {
  const common: BuildOptions = {
    bundle: true,
    format: 'cjs',
    sourcemap: true,
    logLevel: 'warning',
    absWorkingDir: root,
  };
  return [
    {
      ...common,
      platform: 'node',
      target: 'node22',
      entryPoints: ['src/main/main.ts'],
      outfile: join(outDir, 'main', 'main.cjs'),
      external: MAIN_EXTERNALS,
    },
    {
      ...common,
      platform: 'browser',
      target: 'chrome120',
      entryPoints: ['src/preload/preload.ts'],
      outfile: join(outDir, 'preload', 'preload.cjs'),
      external: ['electron'],
    },
  ];
}

export async function buildElectron(outDir?: string): Promise<void> {
  await Promise.all(electronBuildTargets(outDir).map((options) => build(options)));
}

async function main(): Promise<void> {
  if (process.argv.includes('--watch')) {
    for (const options of electronBuildTargets()) {
      await (await context({ ...options, logLevel: 'info' })).watch();
    }
  } else {
    await buildElectron();
    process.stdout.write('built dist/main/main.cjs and dist/preload/preload.cjs\n');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
