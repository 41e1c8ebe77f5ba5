// `npm run dev`: the renderer from vite's dev server (hot reload), main and preload rebuilt by
// esbuild on change, and Electron started against them. Needs the Electron binary.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const electronPath = createRequire(import.meta.url)('electron');

const server = await createServer({ configFile: join(root, 'src/renderer/vite.config.ts') });
await server.listen();
const url = server.resolvedUrls?.local[0] ?? 'http://localhost:5173/';

const tsx = join(root, 'node_modules', '.bin', 'tsx');
const build = spawn(tsx, [join(root, 'scripts/build-electron.ts')], {
  stdio: 'inherit',
});
await new Promise((resolve, reject) =>
  build.once('exit', (code) =>
    code === 0 ? resolve(undefined) : reject(new Error(`build exited ${code}`)),
  ),
);
spawn(tsx, [join(root, 'scripts/build-electron.ts'), '--watch'], {
  stdio: 'inherit',
});

const electron = spawn(electronPath, [root], {
  stdio: 'inherit',
  env: { ...process.env, COPILOT_RENDERER_URL: url },
});
electron.once('exit', (code) => {
  void server.close();
  process.exit(code ?? 0);
});
