/**
 * A small, safe evaluator for ClassAd-style requirement expressions such as
 * `other.Memory >= 512 && other.Platform == "Linux-x86_64"`, matched against an agent's JDL
 * (listing 2.4). Supported: numbers, "strings", true/false, `other.Name` references (names are
 * case-insensitive, as in ClassAds), bare `Name` references to the own ad, comparisons
 * (== != < <= > >=), && || ! and parentheses. Nothing is ever executed.
 *
 * As in ClassAds, a reference to a missing attribute is UNDEFINED; comparisons with UNDEFINED
 * are UNDEFINED, `false && UNDEFINED` is false and `true || UNDEFINED` is true. String `==`
 * ignores case (classic ClassAd semantics). An expression matches only when it is `true`.
 */
import { jdlGet, type JdlRecord, type JdlValue } from './jdl';
import { CopilotError } from '../base/errors';

export class ClassAdError extends CopilotError {
  constructor(message: string) {
    super('CLASSAD_INVALID', message);
    this.name = 'ClassAdError';
  }
}

export type ClassAdValue = number | string | boolean | undefined;

type Token =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'name'; value: string }
  | { kind: 'op'; value: string };

type Node =
  | { kind: 'literal'; value: ClassAdValue }
  | { kind: 'ref'; scope: 'other' | 'my'; name: string }
  | { kind: 'not'; operand: Node }
  | { kind: 'binary'; op: string; left: Node; right: Node };

const MAX_EXPRESSION_CHARS = 4096;
const MAX_DEPTH = 64;
const OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '(', ')'];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < source.length) {
    const char = source[index] ?? '';
    if (/\s/.test(char)) {
      index += 1;
      continue;
    }
    if (char === '"') {
      let value = '';
      index += 1;
      for (;;) {
        const next = source[index];
        if (next === undefined) throw new ClassAdError('unterminated string in expression');
        index += 1;
        if (next === '"') break;
        if (next === '\\') {
          const escaped = source[index];
          if (escaped === undefined) throw new ClassAdError('unterminated string in expression');
          value += escaped === 'n' ? '\n' : escaped;
          index += 1;
        } else {
          value += next;
        }
      }
      tokens.push({ kind: 'string', value });
      continue;
    }
    const number = /^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(source.slice(index));
    if (number) {
      tokens.push({ kind: 'number', value: Number(number[0]) });
      index += number[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?/.exec(source.slice(index));
    if (name) {
      tokens.push({ kind: 'name', value: name[0] });
      index += name[0].length;
      continue;
    }
    const op = OPERATORS.find((candidate) => source.startsWith(candidate, index));
    if (op === undefined) {
      throw new ClassAdError(`unexpected character ${JSON.stringify(char)} in expression`);
    }
    tokens.push({ kind: 'op', value: op });
    index += op.length;
  }
  return tokens;
}

class Parser {
  private position = 0;
  private depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): Node {
    if (this.tokens.length === 0) throw new ClassAdError('empty expression');
    const node = this.or();
    const rest = this.tokens[this.position];
    if (rest) throw new ClassAdError(`unexpected ${JSON.stringify(rest.value)} in expression`);
    return node;
  }

  private peekOp(value: string): boolean {
    const token = this.tokens[this.position];
    return token?.kind === 'op' && token.value === value;
  }

  private or(): Node {
    let left = this.and();
    while (this.peekOp('||')) {
      this.position += 1;
      left = { kind: 'binary', op: '||', left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.comparison();
    while (this.peekOp('&&')) {
      this.position += 1;
      left = { kind: 'binary', op: '&&', left, right: this.comparison() };
    }
    return left;
  }

  private comparison(): Node {
    const left = this.unary();
    const token = this.tokens[this.position];
    if (token?.kind === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(token.value)) {
      this.position += 1;
      return { kind: 'binary', op: token.value, left, right: this.unary() };
    }
    return left;
  }

  private unary(): Node {
    if (this.peekOp('!')) {
      this.position += 1;
      return { kind: 'not', operand: this.nested(() => this.unary()) };
    }
    return this.primary();
  }

  private nested(parse: () => Node): Node {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) throw new ClassAdError('expression nested too deeply');
    try {
      return parse();
    } finally {
      this.depth -= 1;
    }
  }

  private primary(): Node {
    const token = this.tokens[this.position];
    if (token === undefined) throw new ClassAdError('expression ends too early');
    this.position += 1;
    if (token.kind === 'number' || token.kind === 'string') {
      return { kind: 'literal', value: token.value };
    }
    if (token.kind === 'name') {
      const lower = token.value.toLowerCase();
      if (lower === 'true' || lower === 'false')
        return { kind: 'literal', value: lower === 'true' };
      if (lower === 'undefined') return { kind: 'literal', value: undefined };
      const dot = token.value.indexOf('.');
      if (dot < 0) return { kind: 'ref', scope: 'my', name: token.value };
      const scope = lower.slice(0, dot);
      if (scope !== 'other' && scope !== 'my') {
        throw new ClassAdError(`unknown scope ${JSON.stringify(token.value.slice(0, dot))}`);
      }
      return { kind: 'ref', scope, name: token.value.slice(dot + 1) };
    }
    if (token.value === '(') {
      const inner = this.nested(() => this.or());
      if (!this.peekOp(')')) throw new ClassAdError("missing ')' in expression");
      this.position += 1;
      return inner;
    }
    throw new ClassAdError(`unexpected ${JSON.stringify(token.value)} in expression`);
  }
}

export type ClassAdExpression = { readonly source: string; readonly root: Node };

/** Parsed expressions by source: a manager matches the same few requirements over and over. */
const parsedExpressions = new Map<string, ClassAdExpression>();
const MAX_CACHED_EXPRESSIONS = 1000;

/** Parses an expression (once per distinct source); throws ClassAdError when it is not valid. */
export function parseClassAdExpression(source: string): ClassAdExpression {
  const cached = parsedExpressions.get(source);
  if (cached) return cached;
  if (source.length > MAX_EXPRESSION_CHARS) {
    throw new ClassAdError(`expression longer than ${MAX_EXPRESSION_CHARS} characters`);
  }
  const parsed = { source, root: new Parser(tokenize(source)).parse() };
  if (parsedExpressions.size >= MAX_CACHED_EXPRESSIONS) parsedExpressions.clear();
  parsedExpressions.set(source, parsed);
  return parsed;
}

/** A JDL value as a ClassAd value; JDL expressions are not evaluated (UNDEFINED). */
function fromJdl(value: JdlValue | undefined): ClassAdValue {
  if (value === undefined || value.kind === 'expression') return undefined;
  return value.value;
}

function compare(op: string, left: ClassAdValue, right: ClassAdValue): ClassAdValue {
  if (left === undefined || right === undefined) return undefined;
  if (typeof left === 'string' && typeof right === 'string') {
    const a = left.toLowerCase();
    const b = right.toLowerCase();
    return compareOrdered(op, a, b);
  }
  if (typeof left === 'number' && typeof right === 'number') return compareOrdered(op, left, right);
  if (typeof left === 'boolean' && typeof right === 'boolean') {
    if (op === '==') return left === right;
    if (op === '!=') return left !== right;
    return undefined;
  }
  // Different types: ClassAds call this ERROR; it never matches.
  return op === '!=' ? true : op === '==' ? false : undefined;
}

function compareOrdered<T extends string | number>(op: string, a: T, b: T): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

function evaluateNode(node: Node, my: JdlRecord, other: JdlRecord): ClassAdValue {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'ref':
      return fromJdl(jdlGet(node.scope === 'other' ? other : my, node.name));
    case 'not': {
      const value = evaluateNode(node.operand, my, other);
      return typeof value === 'boolean' ? !value : undefined;
    }
    case 'binary': {
      const left = evaluateNode(node.left, my, other);
      if (node.op === '&&') {
        if (left === false) return false;
        const right = evaluateNode(node.right, my, other);
        if (right === false) return false;
        return left === true && right === true ? true : undefined;
      }
      if (node.op === '||') {
        if (left === true) return true;
        const right = evaluateNode(node.right, my, other);
        if (right === true) return true;
        return left === false && right === false ? false : undefined;
      }
      return compare(node.op, left, evaluateNode(node.right, my, other));
    }
  }
}

/** Evaluates an expression: `other.X` reads `other`, bare `X` (or `my.X`) reads `my`. */
export function evaluateClassAd(
  expression: ClassAdExpression | string,
  other: JdlRecord,
  my: JdlRecord = [],
): ClassAdValue {
  const parsed = typeof expression === 'string' ? parseClassAdExpression(expression) : expression;
  return evaluateNode(parsed.root, my, other);
}

/** True only when the expression evaluates to `true` against `other`. */
export function classAdMatches(
  expression: ClassAdExpression | string,
  other: JdlRecord,
  my: JdlRecord = [],
): boolean {
  return evaluateClassAd(expression, other, my) === true;
}
