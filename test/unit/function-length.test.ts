// No function outside the tests and the benchmarks runs past MAX_LINES lines (issue #12): a
// longer one is split along its seams into named functions. Counted with TypeScript's parser,
// from the function's first line to its last.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAX_LINES = 150;
const SOURCE_DIRS = ['src', 'manager', 'scripts'];
const SKIPPED_DIRS = new Set(['manager/test', 'node_modules']);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const child = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED_DIRS.has(child) ? [] : sourceFiles(child);
    return /\.(ts|tsx|mts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [child] : [];
  });
}

/** `file:line name (n lines)` for every function longer than `max` lines in `text`. */
function longFunctions(file: string, text: string, max: number): string[] {
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.end).line;
      const lines = last - first + 1;
      const name = node.name?.getText(source) ?? '(anonymous)';
      if (lines > max) found.push(`${file}:${first + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('function length', () => {
  const files = SOURCE_DIRS.flatMap(sourceFiles);

  it(`finds no function over ${MAX_LINES} lines in ${SOURCE_DIRS.join(', ')}`, () => {
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((file) =>
      longFunctions(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), MAX_LINES),
    );
    expect(found).toEqual([]);
  });

  it('would find one', () => {
    const fixture = `function long() {\n${'  step();\n'.repeat(MAX_LINES)}}\n`;
    expect(longFunctions('long.ts', fixture, MAX_LINES)).toEqual(['long.ts:1 long (152 lines)']);
  });
});
