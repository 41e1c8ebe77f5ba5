// A unit test sits where its source's path says (README, "Where tests are"):
//   src/<layer>/<path>/<name>.ts(x)  →  test/unit/<layer>/<path>/<name>.test.ts(x)
//   manager/<folder>/<name>.ts       →  manager/test/unit/<folder>/<name>.test.ts
//   <name>.<ext> at the repository root (a config file)  →  test/unit/<name>.test.ts
// A further file about one aspect of the same source adds it before `.test`:
// `storage-server.fuzz.test.ts`. This test fails for a unit test whose source is not there.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Unit tests with no single source file, each with the reason. */
const EXCEPTIONS: Readonly<Record<string, string>> = {
  'test/unit/test-layout.test.ts': 'checks the layout of the tests themselves',
  'test/unit/function-length.test.ts': 'checks the length of every function in the sources',
};

const TEST_ROOTS = [
  { tests: 'test/unit', sources: 'src' },
  { tests: 'manager/test/unit', sources: 'manager' },
] as const;

function filesUnder(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const child = path.posix.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(child) : [child];
  });
}

/** `a.b.c` → [`a.b.c`, `a.b`, `a`]: the source's name, the rest being an aspect. */
function namesOf(stem: string): string[] {
  const parts = stem.split('.');
  return parts.map((_, index) => parts.slice(0, parts.length - index).join('.'));
}

/** The source files a unit test's path names; empty when none exists. */
function sourcesOf(testFile: string): string[] {
  const root = TEST_ROOTS.find(({ tests }) => testFile.startsWith(`${tests}/`));
  const match = /^(.*)\.test\.(tsx?)$/.exec(testFile);
  if (!root || !match?.[1]) return [];
  const relative = path.posix.relative(root.tests, match[1]);
  const dir = path.posix.dirname(relative);
  const candidates = namesOf(path.posix.basename(relative)).flatMap((name) => {
    if (dir === '.' && root.sources === 'src') {
      // a config file at the repository root
      return fs
        .readdirSync(ROOT)
        .filter(
          (file) => file.startsWith(`${name}.`) && !file.slice(name.length + 1).includes('.'),
        );
    }
    return ['ts', 'tsx'].map((ext) => path.posix.join(root.sources, dir, `${name}.${ext}`));
  });
  return candidates.filter((file) => fs.existsSync(path.join(ROOT, file)));
}

describe('unit tests sit at the path computed from their source', () => {
  const unitTests = TEST_ROOTS.flatMap(({ tests }) => filesUnder(tests)).filter((file) =>
    /\.test\.tsx?$/.test(file),
  );

  it('finds the unit tests', () => {
    expect(unitTests.length).toBeGreaterThan(50);
  });

  it('every unit test names an existing source file, or is a listed exception', () => {
    const orphans = unitTests.filter(
      (file) => !(file in EXCEPTIONS) && sourcesOf(file).length === 0,
    );
    expect(orphans).toEqual([]);
  });

  it('lists only exceptions that exist and still need to be', () => {
    for (const file of Object.keys(EXCEPTIONS)) {
      expect({ file, exists: fs.existsSync(path.join(ROOT, file)) }).toEqual({
        file,
        exists: true,
      });
      expect({ file, sources: sourcesOf(file) }).toEqual({ file, sources: [] });
    }
  });

  it('computes the paths of the rule', () => {
    expect(sourcesOf('test/unit/core/agent.test.ts')).toEqual(['src/core/agent.ts']);
    expect(sourcesOf('test/unit/core/agent.settings-secrets.test.ts')).toEqual([
      'src/core/agent.ts',
    ]);
    expect(sourcesOf('manager/test/unit/job-manager/storage-server.fuzz.test.ts')).toEqual([
      'manager/job-manager/storage-server.ts',
    ]);
    expect(sourcesOf('test/unit/eslint.config.test.ts')).toEqual(['eslint.config.js']);
    expect(sourcesOf('test/unit/core/no-such-module.test.ts')).toEqual([]);
    expect(sourcesOf('test/unit/secure/secure-channel.test.ts')).toEqual([]);
  });
});
