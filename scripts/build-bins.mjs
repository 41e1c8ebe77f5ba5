// Bundles each command-line entry point into dist/bin/<name>.js with esbuild. Each entry module
// runs its own main() when it is the process entry point. Dependencies stay external
// (better-sqlite3 is native), so the bundles run from an installed package.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const BINS = {
  'copilot-agent': 'src/cli/copilot-agent.ts',
  'copilot-jobmanager-generic': 'manager/bin/copilot-jobmanager-generic.ts',
  'copilot-job-submit': 'manager/bin/copilot-job-submit.ts',
  'copilot-jobs': 'manager/bin/copilot-jobs.ts',
  'copilot-heartbeat': 'manager/bin/copilot-heartbeat.ts',
  'copilot-monitor': 'manager/bin/copilot-monitor.ts',
  'copilot-manager': 'manager/bin/copilot-manager.ts',
  'copilot-attach-link': 'manager/bin/copilot-attach-link.ts',
};

for (const [name, source] of Object.entries(BINS)) {
  const outfile = join(root, 'dist', 'bin', `${name}.js`);
  await build({
    entryPoints: [join(root, source)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    outfile,
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  await chmod(outfile, 0o755);
  process.stdout.write(`built dist/bin/${name}.js\n`);
}
