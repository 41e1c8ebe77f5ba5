import { defineConfig } from 'vitest/config';
import { pathAliases } from './scripts/path-aliases';

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
          include: ['test/integration/**/*.test.ts', 'manager/test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['./test/harness/global-setup.ts'],
          setupFiles,
        },
      },
    ],
  },
});
