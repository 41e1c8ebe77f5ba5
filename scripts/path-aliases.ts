// The import aliases (@copilot/… → src/…, @manager/… → manager/…, @test/… → test/…) are declared
// once, as `paths` in tsconfig.json, which tsc, tsx and esbuild read themselves; Vite and Vitest
// get the same aliases from here.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface PathAlias {
  find: RegExp;
  replacement: string;
}

/** tsconfig.json's `paths` (`"@x/*": ["./dir/*"]`) as Vite `resolve.alias` entries. */
export function pathAliases(): PathAlias[] {
  const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: { paths: Record<string, string[]> };
  };
  return Object.entries(tsconfig.compilerOptions.paths).map(([pattern, [target]]) => {
    if (!pattern.endsWith('/*') || !target?.endsWith('/*')) {
      throw new Error(`tsconfig.json paths: only "prefix/*" patterns are supported (${pattern})`);
    }
    const prefix = pattern.slice(0, -1);
    return {
      find: new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      replacement: `${path.join(ROOT, target.slice(0, -1))}/`,
    };
  });
}
