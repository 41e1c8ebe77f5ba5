/**
 * Bundles a TypeScript entry point into one plain .mjs file under .tmp/bench with esbuild, so
 * processes measured for RSS and CPU run on plain node rather than under the tsx loader. npm
 * packages stay external and load from node_modules as usual.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '@test/harness';

export const BENCH_TMP = path.join(REPO_ROOT, '.tmp', 'bench');

export async function bundleEntry(entry: string, name: string): Promise<string> {
  fs.mkdirSync(BENCH_TMP, { recursive: true });
  const outfile = path.join(BENCH_TMP, `${name}.mjs`);
  await build({
    entryPoints: [path.resolve(REPO_ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: false,
    logLevel: 'error',
  });
  return outfile;
}
