import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { pathAliases } from '../../scripts/path-aliases';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Builds the React UI to dist/renderer; `base: './'` so it loads from file:// in Electron. */
export default defineConfig({
  root,
  base: './',
  esbuild: { jsx: 'automatic' },
  resolve: { alias: pathAliases() },
  build: {
    outDir: fileURLToPath(new URL('../../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'chrome120',
    sourcemap: true,
  },
  server: { port: 5173, strictPort: true },
});
