// Bundles the Electron main process to dist/main/main.cjs and the preload to
// dist/preload/preload.cjs (CommonJS: a sandboxed preload cannot load ES modules).
// `electron` is provided at run time; dockerode (optional native ssh2/cpu-features) stays external
// and ships from node_modules (electron-builder always adds production dependencies).
// Pure-JS dependencies such as electron-store (ESM only) are bundled in.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  sourcemap: true,
  logLevel: 'info',
  absWorkingDir: root,
};

const targets = [
  {
    ...common,
    entryPoints: ['src/main/main.ts'],
    outfile: 'dist/main/main.cjs',
    external: ['electron', 'dockerode', 'ssh2', 'cpu-features', 'better-sqlite3'],
  },
  {
    ...common,
    entryPoints: ['src/preload/preload.ts'],
    outfile: 'dist/preload/preload.cjs',
    platform: 'browser',
    target: 'chrome120',
    external: ['electron'],
  },
];

if (watch) {
  const { context } = await import('esbuild');
  for (const options of targets) await (await context(options)).watch();
} else {
  await Promise.all(targets.map((options) => build(options)));
}
