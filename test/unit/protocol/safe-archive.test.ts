import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  UnsafeArchiveError,
  checkEntryPath,
  extractArchiveSafely,
} from '@copilot/protocol/safe-archive';
import {
  ABSOLUTE_ESCAPE_PATH,
  HOSTILE_ARCHIVES,
  writeHostileArchives,
} from '@test/fixtures/hostile/archives/make-hostile-archives';

const LIMITS = { maxFileBytes: 1024 * 1024, maxEntries: 100 };

let root: string;
let archives: Record<string, string>;

/** Every path under dir, relative, sorted. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const name of fs.readdirSync(current)) {
      const full = path.join(current, name);
      out.push(path.relative(dir, full));
      if (fs.lstatSync(full).isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out.sort();
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-safe-archive-'));
  archives = writeHostileArchives(path.join(root, 'corpus'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function sandbox(name: string): { parent: string; target: string } {
  const parent = path.join(root, 'sandbox', name);
  const target = path.join(parent, 'job', 'output');
  fs.mkdirSync(target, { recursive: true });
  return { parent, target };
}

describe('extractArchiveSafely', () => {
  it('extracts a well-formed archive, stripping setuid bits', async () => {
    const { target } = sandbox('good');
    const result = await extractArchiveSafely(archives['good.tgz'] ?? '', target, LIMITS);
    expect(result.files).toEqual(['out/result.txt', 'out/sub/data.bin', 'out/setuid-tool']);
    expect(fs.readFileSync(path.join(target, 'out/result.txt'), 'utf8')).toBe('result 42\n');
    const mode = fs.statSync(path.join(target, 'out/setuid-tool')).mode & 0o7777;
    expect(mode & 0o7000).toBe(0);
    expect(result.totalBytes).toBe(10 + 1000 + 10);
  });

  const hostile = Object.entries(HOSTILE_ARCHIVES).filter(([, spec]) => spec.refusal !== 'ok');

  it.each(hostile)('%s is refused before anything is written', async (name, spec) => {
    const { parent, target } = sandbox(name);
    // The bomb's header size is within the default caps: the ratio check must catch it.
    const limits = name === 'gzip-bomb.tgz' ? {} : LIMITS;
    const attempt = extractArchiveSafely(archives[name] ?? '', target, limits);
    await expect(attempt).rejects.toBeInstanceOf(UnsafeArchiveError);
    await expect(attempt).rejects.toThrow(spec.refusal);
    expect(listTree(target)).toEqual([]);
    expect(listTree(parent)).toEqual(['job', 'job/output']);
    expect(fs.existsSync(ABSOLUTE_ESCAPE_PATH)).toBe(false);
  });

  it("skips the './' entry of the archive's own root (the original agent's `tar -czf x .`)", async () => {
    const { parent, target } = sandbox('root-entry');
    const work = path.join(parent, 'work');
    fs.mkdirSync(work);
    fs.writeFileSync(path.join(work, 'stdout'), '4\n');
    const archive = path.join(parent, 'job.tgz');
    await createTar({ gzip: true, file: archive, cwd: work, portable: true }, ['.']);
    const result = await extractArchiveSafely(archive, target, LIMITS);
    expect(result).toMatchObject({ files: ['stdout'], directories: [] });
    expect(fs.readFileSync(path.join(target, 'stdout'), 'utf8')).toBe('4\n');
  });

  it('a corrupt archive is a clear error, not a crash', async () => {
    const { target } = sandbox('corrupt');
    await expect(extractArchiveSafely(archives['corrupt.tgz'] ?? '', target)).rejects.toThrow(
      /not a readable tar archive/,
    );
    expect(listTree(target)).toEqual([]);
  });

  it('refuses a target that is a symlink', async () => {
    const { parent } = sandbox('symlinked-target');
    const link = path.join(parent, 'link');
    fs.symlinkSync(os.tmpdir(), link);
    await expect(extractArchiveSafely(archives['good.tgz'] ?? '', link)).rejects.toThrow(
      /not a directory/,
    );
  });
});

describe('checkEntryPath', () => {
  it.each([
    ['a/b.txt', 'a/b.txt'],
    ['./a//b.txt', 'a/b.txt'],
    ['dir/', 'dir'],
  ])('accepts %s as %s', (raw, normal) => {
    expect(checkEntryPath(raw)).toBe(normal);
  });

  it.each(['', '/etc/passwd', 'C:/x', '../x', 'a/../../x', 'a\\b', 'nul\0byte', '.', './'])(
    'refuses %j',
    (raw) => {
      expect(typeof checkEntryPath(raw)).toBe('object');
    },
  );
});
