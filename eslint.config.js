import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

/**
 * The layers: each folder of ours, the folders (or single files) it may import, and which
 * packages. This table is the source; README's "Layout" table states it, and the
 * no-restricted-imports blocks below are generated from it (test/unit/eslint.config.test.ts proves
 * that a forbidden import fails). `packages`: 'node' = node built-ins only, 'electron' = npm
 * packages and electron, unset = npm packages but not electron.
 */
export const LAYERS = {
  'src/base': { imports: [], packages: 'node' },
  'src/protocol': { imports: ['src/base'] },
  'src/transport': { imports: ['src/protocol', 'src/base'] },
  'src/storage': { imports: ['src/protocol', 'src/base'], packages: 'node' },
  'src/heartbeat': { imports: ['src/protocol', 'src/transport', 'src/base'] },
  'src/contract': { imports: ['src/base'] },
  'src/core': {
    imports: [
      'src/protocol',
      'src/transport',
      'src/heartbeat',
      'src/storage',
      'src/contract',
      'src/base',
    ],
  },
  'src/rpc': { imports: ['src/contract', 'src/core/agent-host', 'src/base'] },
  'src/cli': { imports: ['src/core', 'src/rpc', 'src/contract', 'src/protocol', 'src/base'] },
  'src/main': { imports: ['src/core', 'src/contract', 'src/base'], packages: 'electron' },
  'src/preload': { imports: ['src/contract'], packages: 'electron' },
  'src/renderer': { imports: ['src/contract', 'src/base'] },
  'manager/job-manager': {
    imports: ['src/protocol', 'src/transport', 'src/heartbeat', 'src/storage', 'src/base'],
  },
  'manager/monitor': {
    imports: ['src/protocol', 'src/transport', 'src/heartbeat', 'src/storage', 'src/base'],
  },
  'manager/setup': { imports: ['src/protocol', 'src/base'] },
  'manager/bin': {
    imports: [
      'manager/job-manager',
      'manager/monitor',
      'manager/setup',
      'src/protocol',
      'src/transport',
      'src/heartbeat',
      'src/storage',
      'src/base',
    ],
  },
};

// Each block that sets no-restricted-imports replaces the rule, so every block repeats these.
const NO_SHELL = ['child_process', 'node:child_process'].map((name) => ({
  name,
  importNames: ['exec', 'execSync'],
  message: 'Never pass data to a shell: use execFile/spawn with an argument array.',
}));

const ALIAS = { src: '@copilot/', manager: '@manager/' };

/**
 * Code outside src/ names what is in another top folder by its alias (tsconfig.json `paths`):
 * `@copilot/core/agent`, `@manager/job-manager/job-queue`, `@test/harness`, never `../../src/…`
 * or `../job-manager/…`. Inside src/ the layers import each other relatively (`../protocol`).
 */
const MANAGER_FOLDERS = Object.keys(LAYERS)
  .filter((folder) => folder.startsWith('manager/'))
  .map((folder) => folder.slice('manager/'.length));
const USE_ALIAS = {
  regex: `^(?:\\.\\./)+(?:src|manager|test|${MANAGER_FOLDERS.join('|')})/`,
  caseSensitive: true,
  message:
    'Import another top folder by alias: @copilot/…, @manager/…, @test/… (tsconfig.json paths).',
};
const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A regex matching the specifiers, written from a file in `fromTop` (src or manager), that name
 * one of `targets` (folders of `top`): `@copilot/core/…`, `../core/…`, `../../src/core/…`. A target
 * with exceptions (`src/core` when only `src/core/agent-host` is allowed) spares those files.
 */
function targetRegex(fromTop, top, targets) {
  const climb = fromTop === top ? `(?:\\.\\./)+(?:${top}/)?` : `(?:\\.\\./)+${top}/`;
  const names = targets.map(({ name, except }) =>
    except.length === 0
      ? escapeRegex(name)
      : `${escapeRegex(name)}(?!/(?:${except.map(escapeRegex).join('|')})$)`,
  );
  return `^(?:${escapeRegex(ALIAS[top])}|${climb})(?:${names.join('|')})(?:/|$)`;
}

/** The no-restricted-imports options of the files in `folder`, from LAYERS. */
export function layerRestrictions(folder) {
  const { imports, packages } = LAYERS[folder];
  const [fromTop] = folder.split('/');
  const allowedText = imports.length > 0 ? imports.join(', ') : 'nothing of ours';
  const message = `${folder}/ may import ${allowedText} (the layer table in eslint.config.js)`;
  const patterns = [USE_ALIAS];
  for (const top of Object.keys(ALIAS)) {
    const targets = [];
    for (const other of Object.keys(LAYERS)) {
      if (other === folder || !other.startsWith(`${top}/`) || imports.includes(other)) continue;
      const except = imports
        .filter((entry) => entry.startsWith(`${other}/`))
        .map((entry) => entry.slice(other.length + 1));
      targets.push({ name: other.slice(top.length + 1), except });
    }
    if (targets.length > 0) {
      patterns.push({ regex: targetRegex(fromTop, top, targets), caseSensitive: true, message });
    }
  }
  if (packages === 'node') {
    patterns.push({
      regex: '^(?!node:|\\.|@copilot/|@manager/)',
      caseSensitive: true,
      message: `${folder}/ imports node built-ins only, no npm package (eslint.config.js)`,
    });
  }
  const paths = [...NO_SHELL];
  if (packages !== 'electron') {
    paths.push({
      name: 'electron',
      message: `${folder}/ runs in plain Node or the browser: no electron import.`,
    });
  }
  return { patterns, paths };
}

const layerBlocks = Object.keys(LAYERS).map((folder) => ({
  files: [`${folder}/**`],
  rules: { 'no-restricted-imports': ['error', layerRestrictions(folder)] },
}));

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'release/**',
      'node_modules/**',
      'coverage/**',
      'test-artifacts/**',
      '.tmp/**',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-imports': ['error', { patterns: [USE_ALIAS], paths: NO_SHELL }],
    },
  },
  ...layerBlocks,
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules },
  },
);
