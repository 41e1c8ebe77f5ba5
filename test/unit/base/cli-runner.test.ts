import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-runner-'));
const runner = path.resolve('src/base/cli-runner.ts');
const tsx = path.resolve('node_modules/.bin/tsx');

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('isEntryPoint', () => {
  it('is true for the module started directly and through a symlink (npm bins), false when imported', async () => {
    const entry = path.join(root, 'entry.ts');
    fs.writeFileSync(
      entry,
      `import { isEntryPoint } from ${JSON.stringify(runner)};\n` +
        `process.stdout.write(String(isEntryPoint(import.meta.url)));\n`,
    );
    const link = path.join(root, 'bin-link.ts');
    fs.symlinkSync(entry, link);
    const importer = path.join(root, 'importer.ts');
    fs.writeFileSync(importer, `import './entry.ts';\n`);
    const output = async (file: string): Promise<string> =>
      (await run(tsx, [file], { cwd: process.cwd() })).stdout;
    expect(await output(entry)).toBe('true');
    expect(await output(link)).toBe('true');
    expect(await output(importer)).toBe('false');
  }, 30_000);
});
