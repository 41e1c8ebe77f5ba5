import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the plain closing line CI reads: "tests: N passed, N failed, N skipped". A test that
 * never ran because its file failed (a beforeAll that threw, an import error) counts as failed,
 * not skipped; a file that failed before any test was collected counts as one failed test.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const testModule of testModules) {
      const fileFailed = testModule.state() === 'failed';
      let collected = 0;
      for (const testCase of testModule.children.allTests()) {
        collected += 1;
        const state = testCase.result().state;
        const meantToRun = testCase.options.mode === 'run' || testCase.options.mode === 'only';
        if (state === 'passed') passed += 1;
        else if (state === 'failed' || (fileFailed && meantToRun)) failed += 1;
        else skipped += 1;
      }
      if (fileFailed && collected === 0) failed += 1;
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
