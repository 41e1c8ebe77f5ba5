import { defineConfig } from 'vitest/config';

/**
 * Vitest 4 reports an uncaught exception or unhandled rejection as an "Unhandled Error" and exits
 * 1, but counts the test that caused it as passed; this setup file makes that test fail.
 */
const setupFiles = ['./test/setup/fail-on-uncaught.ts'];

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
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
