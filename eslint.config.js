import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

// Each block that sets no-restricted-imports replaces the rule, so every block repeats these.
const NO_SHELL = ['child_process', 'node:child_process'].map((name) => ({
  name,
  importNames: ['exec', 'execSync'],
  message: 'Never pass data to a shell: use execFile/spawn with an argument array.',
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
      'no-restricted-imports': ['error', { paths: NO_SHELL }],
    },
  },
  {
    files: ['src/core/**', 'src/protocol/**', 'src/cli/**', 'src/contract/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'The agent core is plain Node: no electron import.' },
            ...NO_SHELL,
          ],
        },
      ],
    },
  },
  {
    files: ['src/base/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!node:|\\./)',
              message:
                'src/base/ holds general helpers every layer may import: it imports node built-ins only.',
            },
          ],
          paths: NO_SHELL,
        },
      ],
    },
  },
  {
    files: ['src/storage/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!node:|\\./|\\.\\./(?:base|protocol)(?:/|$))',
              message:
                'src/storage/ is shared by the agent and the manager: node built-ins, src/base and src/protocol only.',
            },
          ],
          paths: NO_SHELL,
        },
      ],
    },
  },
  {
    files: ['manager/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/core/**', '**/src/main/**', '**/src/renderer/**'],
              message:
                'manager/ may import only the shared protocol code (src/protocol, src/transport).',
            },
          ],
          paths: [
            { name: 'electron', message: 'The manager never imports electron.' },
            ...NO_SHELL,
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules },
  },
);
