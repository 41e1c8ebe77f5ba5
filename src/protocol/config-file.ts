/**
 * The report's configuration format (4.2.2, 4.3.2): one `VARIABLE_NAME VALUE` per line, `#`
 * starts a comment line, blank lines are ignored. A value is the rest of the line after the first
 * run of white space (it may itself hold spaces). Values can be overridden by environment
 * variables of the same name and by `--VARIABLE_NAME=value` command-line arguments; the later
 * source wins: file < environment < command line.
 */

import { CopilotError } from '../base/errors';

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A configuration variable or file is missing or wrong: the user's to fix. */
export class ConfigError extends CopilotError {
  /** The variable the error is about, when there is one. */
  readonly variable: string | undefined;

  constructor(message: string, variable?: string) {
    super('CONFIG_INVALID', message);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** Parses config text into name → value. `source` names the file in error messages. */
export function parseConfigText(text: string, source = 'config'): Map<string, string> {
  const values = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(\S+)(?:\s+(.*))?$/.exec(line);
    const name = match?.[1] ?? '';
    if (!NAME_PATTERN.test(name)) {
      throw new ConfigError(
        `${source}:${index + 1}: invalid variable name ${JSON.stringify(name)}`,
      );
    }
    values.set(name, (match?.[2] ?? '').trim());
  });
  return values;
}

export interface ParsedConfigArgs {
  /** `--NAME=value` pairs whose NAME looks like a config variable (upper case). */
  overrides: Map<string, string>;
  /** `--config path` or `--config=path`. */
  configPath: string | undefined;
  /** Every other `--name[=value]` option, lower-case style (e.g. `--role storage`). */
  options: Map<string, string>;
  /** Arguments that are not options. */
  positional: string[];
  /** Every non-variable option in order, repeats included (e.g. `--input a --input b`). */
  all: Array<[name: string, value: string]>;
}

const UPPER_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** A switch that is on: `1`, `true`, `yes` or `on`, any case, surrounding spaces ignored. */
export function isSwitchOn(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

/**
 * Splits argv into config overrides (`--JM_JABBER_ID=jm`), `--config`, other options and
 * positional arguments. An option without `=` takes the next argument as its value unless that
 * starts with `--` or the option is listed in `flags`.
 */
export function parseConfigArgs(
  argv: readonly string[],
  flags: readonly string[] = [],
): ParsedConfigArgs {
  const result: ParsedConfigArgs = {
    overrides: new Map(),
    configPath: undefined,
    options: new Map(),
    positional: [],
    all: [],
  };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    if (!arg.startsWith('--') || arg === '--') {
      result.positional.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals >= 0 ? arg.slice(2, equals) : arg.slice(2);
    let value: string;
    if (equals >= 0) {
      value = arg.slice(equals + 1);
    } else if (flags.includes(name)) {
      value = 'true';
    } else {
      const next = argv[index + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new ConfigError(`option --${name} needs a value`, name);
      }
      value = next;
      index += 1;
    }
    if (name === 'config') result.configPath = value;
    else if (UPPER_NAME.test(name)) result.overrides.set(name, value);
    else {
      result.options.set(name, value);
      result.all.push([name, value]);
    }
  }
  return result;
}

/** Layered lookup: command line, then environment, then file. Typed getters name the variable. */
export class ConfigValues {
  private readonly layers: ReadonlyArray<ReadonlyMap<string, string>>;

  /** `layers` in priority order, highest first. Empty values count as unset. */
  constructor(layers: ReadonlyArray<ReadonlyMap<string, string>>) {
    this.layers = layers;
  }

  /** Builds the usual layering from a file's values, an environment and CLI overrides. */
  static from(options: {
    file?: ReadonlyMap<string, string>;
    env?: Readonly<Record<string, string | undefined>>;
    overrides?: ReadonlyMap<string, string>;
  }): ConfigValues {
    const env = new Map<string, string>();
    for (const [name, value] of Object.entries(options.env ?? {})) {
      if (value !== undefined && UPPER_NAME.test(name)) env.set(name, value);
    }
    return new ConfigValues([options.overrides ?? new Map(), env, options.file ?? new Map()]);
  }

  optional(name: string): string | undefined {
    for (const layer of this.layers) {
      const value = layer.get(name)?.trim();
      if (value !== undefined && value !== '') return value;
    }
    return undefined;
  }

  required(name: string, hint?: string): string {
    const value = this.optional(name);
    if (value === undefined) {
      throw new ConfigError(`${name} must be set${hint ? ` (${hint})` : ''}`, name);
    }
    return value;
  }

  string(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  /** A finite number within [min, max]; `fallback` when unset. */
  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const { min = -Infinity, max = Infinity } = range;
    if (!/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(raw) || !Number.isFinite(value)) {
      throw new ConfigError(`${name} must be a number, not ${JSON.stringify(raw)}`, name);
    }
    if (value < min || value > max) {
      throw new ConfigError(`${name} must be between ${min} and ${max}, not ${raw}`, name);
    }
    return value;
  }

  integer(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const value = this.number(name, fallback, range);
    if (!Number.isInteger(value)) {
      throw new ConfigError(`${name} must be a whole number, not ${value}`, name);
    }
    return value;
  }

  /** One of `choices`; `fallback` when unset. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const found = choices.find((choice) => choice === raw);
    if (found === undefined) {
      throw new ConfigError(`${name} must be one of ${choices.join(', ')}, not ${raw}`, name);
    }
    return found;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (isSwitchOn(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${name} must be true or false, not ${JSON.stringify(raw)}`, name);
  }
}
