/**
 * A small ClassAd/JDL serializer and parser for the host description of listing 2.4:
 * `[ Name = value; ... ]`, with string, number, boolean and expression values.
 */

export type JdlValue =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'expression'; source: string };

export type JdlRecord = ReadonlyArray<readonly [name: string, value: JdlValue]>;

export class JdlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JdlParseError';
  }
}

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const NUMBER_PATTERN = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

export const jdlString = (value: string): JdlValue => ({ kind: 'string', value });
export const jdlNumber = (value: number): JdlValue => ({ kind: 'number', value });
export const jdlBoolean = (value: boolean): JdlValue => ({ kind: 'boolean', value });
export const jdlExpression = (source: string): JdlValue => ({ kind: 'expression', source });

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function formatJdlValue(value: JdlValue): string {
  switch (value.kind) {
    case 'string':
      return quote(value.value);
    case 'number':
      return Number.isInteger(value.value) ? value.value.toFixed(0) : String(value.value);
    case 'boolean':
      return value.value ? 'true' : 'false';
    case 'expression':
      return value.source;
  }
}

export function serializeJdl(record: JdlRecord): string {
  const lines = record.map(([name, value]) => {
    if (!NAME_PATTERN.test(name)) throw new JdlParseError(`invalid JDL attribute name '${name}'`);
    return `  ${name} = ${formatJdlValue(value)};`;
  });
  // The last entry carries no semicolon, as in listing 2.4.
  const last = lines.length - 1;
  if (last >= 0) lines[last] = (lines[last] ?? '').replace(/;$/, '');
  return `[\n${lines.join('\n')}\n]`;
}

function unquote(literal: string): string {
  let result = '';
  for (let index = 1; index < literal.length - 1; index += 1) {
    const char = literal[index];
    if (char === '\\' && index + 1 < literal.length - 1) {
      index += 1;
      const escaped = literal[index];
      result += escaped === 'n' ? '\n' : (escaped ?? '');
    } else {
      result += char ?? '';
    }
  }
  return result;
}

function classify(source: string): JdlValue {
  if (source.length >= 2 && source.startsWith('"') && source.endsWith('"')) {
    const inner = source.slice(1, -1);
    // A lone string literal: no unescaped quote inside.
    if (!/(^|[^\\])"/.test(inner)) return jdlString(unquote(source));
  }
  if (NUMBER_PATTERN.test(source)) return jdlNumber(Number(source));
  const lower = source.toLowerCase();
  if (lower === 'true' || lower === 'false') return jdlBoolean(lower === 'true');
  return jdlExpression(source);
}

/** Splits the body of `[ ... ]` on top-level semicolons, respecting quotes and brackets. */
function splitEntries(body: string): string[] {
  const entries: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let index = 0; index < body.length; index += 1) {
    const char = body[index];
    if (inString) {
      if (char === '\\') index += 1;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '(' || char === '[' || char === '{') depth += 1;
    else if (char === ')' || char === ']' || char === '}') depth -= 1;
    else if (char === ';' && depth === 0) {
      entries.push(body.slice(start, index));
      start = index + 1;
    }
    if (depth < 0) throw new JdlParseError('unbalanced brackets in JDL');
  }
  if (inString) throw new JdlParseError('unterminated string in JDL');
  if (depth !== 0) throw new JdlParseError('unbalanced brackets in JDL');
  entries.push(body.slice(start));
  return entries.map((entry) => entry.trim()).filter((entry) => entry !== '');
}

export function parseJdl(text: string): JdlRecord {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) {
    throw new JdlParseError('JDL must be enclosed in [ ]');
  }
  const record: Array<readonly [string, JdlValue]> = [];
  for (const entry of splitEntries(trimmed.slice(1, -1))) {
    const equals = entry.indexOf('=');
    if (equals <= 0) throw new JdlParseError(`JDL entry without '=': ${entry.slice(0, 40)}`);
    const name = entry.slice(0, equals).trim();
    if (!NAME_PATTERN.test(name)) throw new JdlParseError(`invalid JDL attribute name '${name}'`);
    const source = entry.slice(equals + 1).trim();
    if (source === '') throw new JdlParseError(`JDL attribute '${name}' has no value`);
    record.push([name, classify(source)]);
  }
  return record;
}

/** Case-insensitive lookup, as ClassAd attribute names are case-insensitive. */
export function jdlGet(record: JdlRecord, name: string): JdlValue | undefined {
  const wanted = name.toLowerCase();
  return record.find(([key]) => key.toLowerCase() === wanted)?.[1];
}
