// The layer table in eslint.config.js is what ESLint enforces: for every folder of ours, a file
// there importing each other folder is linted through ESLint's API, and exactly the imports the
// table does not allow fail.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Layer {
  imports: string[];
  packages?: 'node' | 'electron';
}

let LAYERS: Record<string, Layer>;
let eslint: ESLint;

beforeAll(async () => {
  const configUrl = pathToFileURL(path.join(ROOT, 'eslint.config.js')).href;
  ({ LAYERS } = (await import(configUrl)) as { LAYERS: Record<string, Layer> });
  eslint = new ESLint({ cwd: ROOT });
});

/**
 * The import specifiers a file in `from` may write for `to`: the alias, and between two src/
 * layers the relative path too (src/ layers import each other relatively).
 */
function specifiers(from: string, to: string): string[] {
  const alias = to.replace(/^src\//, '@copilot/').replace(/^manager\//, '@manager/');
  if (!from.startsWith('src/') || !to.startsWith('src/')) return [alias];
  let relative = path.posix.relative(from, to);
  if (!relative.startsWith('.')) relative = `./${relative}`;
  return [alias, relative];
}

function allowed(from: string, to: string): boolean {
  const layer = LAYERS[from];
  if (!layer) throw new Error(`no layer ${from}`);
  if (to === from || to.startsWith(`${from}/`)) return true;
  return layer.imports.some((entry) => to === entry || to.startsWith(`${entry}/`));
}

/** The specifiers of `lines` (one import per line) that ESLint restricts in a file of `folder`. */
async function restricted(folder: string, lines: string[]): Promise<string[]> {
  const text = lines.map((spec, index) => `import * as m${index} from '${spec}';\n`).join('');
  const filePath = path.join(ROOT, folder, '__layer-fixture.ts');
  const [result] = await eslint.lintText(text, { filePath });
  const lineNumbers = (result?.messages ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.line);
  return [...new Set(lineNumbers)].map((line) => lines[line - 1] ?? '?');
}

describe('the layer table in eslint.config.js', () => {
  it('names every folder of src/ and manager/ that holds code', () => {
    const folders = ['src', 'manager'].flatMap((top) =>
      fs
        .readdirSync(path.join(ROOT, top), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !['test', 'types'].includes(entry.name))
        .map((entry) => `${top}/${entry.name}`),
    );
    expect(folders.sort()).toEqual(Object.keys(LAYERS).sort());
  });

  it('fails exactly the imports a layer may not make, written as alias or relative path', async () => {
    const targets = [...Object.keys(LAYERS), 'src/core/agent-host', 'src/core/agent'];
    for (const folder of Object.keys(LAYERS)) {
      const lines = targets.flatMap((target) => specifiers(folder, target));
      const forbidden = targets
        .filter((target) => !allowed(folder, target))
        .flatMap((target) => specifiers(folder, target));
      expect({ folder, restricted: await restricted(folder, lines) }).toEqual({
        folder,
        restricted: forbidden,
      });
    }
  });

  it('keeps npm packages out of node-only layers and electron out of all but main and preload', async () => {
    for (const [folder, layer] of Object.entries(LAYERS)) {
      const lines = ['node:fs', 'electron', 'tar'];
      const expected = [
        ...(layer.packages === 'electron' ? [] : ['electron']),
        ...(layer.packages === 'node' ? ['tar'] : []),
      ];
      expect({ folder, restricted: await restricted(folder, lines) }).toEqual({
        folder,
        restricted: expected,
      });
    }
  });

  it('makes code outside src/ leave its top folder by alias, not by ../', async () => {
    const cases = [
      ['manager/bin', '../job-manager/job-manager'],
      ['manager/monitor', '../../src/protocol'],
      ['test/unit/core', '../../../src/core/agent'],
      ['test/integration', '../../manager/job-manager/job-queue'],
      ['manager/test/unit/monitor', '../../../monitor/carbon-client'],
      ['bench', '../test/harness'],
    ] as const;
    for (const [folder, spec] of cases) {
      expect({ folder, restricted: await restricted(folder, [spec]) }).toEqual({
        folder,
        restricted: [spec],
      });
    }
  });

  it('still refuses a shell everywhere', async () => {
    for (const folder of [...Object.keys(LAYERS), 'test/unit', 'bench', 'scripts']) {
      const filePath = path.join(ROOT, folder, '__shell-fixture.ts');
      const [result] = await eslint.lintText(
        "import { exec } from 'node:child_process';\nexec('true');\n",
        { filePath },
      );
      const rules = (result?.messages ?? []).map((message) => message.ruleId);
      expect({ folder, rules }).toEqual({ folder, rules: ['no-restricted-imports'] });
    }
  });
});
