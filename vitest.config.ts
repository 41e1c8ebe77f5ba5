import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { pathAliases } from './scripts/path-aliases';

const INTEGRATION_DIRS = ['test/integration', 'manager/test/integration'];

/**
 * The integration files that take their XMPP server from startTestXmppServer: the suite runs them
 * once on Prosody and once more on ejabberd (issue #14). Files that need Prosody's own features
 * call startProsody and run once.
 */
function filesOnEitherServer(): string[] {
  return INTEGRATION_DIRS.flatMap((dir) =>
    fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => path.join(dir, name))
      .filter((file) => fs.readFileSync(file, 'utf8').includes('startTestXmppServer(')),
  );
}

/**
 * Vitest 4 reports an uncaught exception or unhandled rejection as an "Unhandled Error" and exits
 * 1, but counts the test that caused it as passed; this setup file makes that test fail.
 */
const setupFiles = ['./test/setup/fail-on-uncaught.ts'];

/** @copilot/…, @manager/…, @test/…: tsconfig.json's paths. */
const resolve = { alias: pathAliases() };

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      // Integration files run one at a time (fileParallelism: false) against real servers; the
      // two integration projects are in different groups (groupOrder), so never at once.
      {
        resolve,
        test: {
          name: 'unit',
          include: [
            'test/unit/**/*.test.ts',
            'test/unit/**/*.test.tsx',
            'manager/test/unit/**/*.test.ts',
          ],
          environment: 'node',
          setupFiles,
        },
      },
      {
        resolve,
        test: {
          name: 'integration',
          sequence: { groupOrder: 0 },
          include: ['test/integration/**/*.test.ts', 'manager/test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['./test/harness/global-setup.ts'],
          setupFiles,
        },
      },
      {
        resolve,
        test: {
          name: 'integration-ejabberd',
          include: filesOnEitherServer(),
          env: { COPILOT_TEST_XMPP: 'ejabberd' },
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          globalSetup: ['./test/harness/global-setup.ts'],
          setupFiles,
        },
      },
    ],
  },
});
