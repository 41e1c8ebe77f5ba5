/**
 * Rules for the values inside a job that end up as paths, argv or environment on a volunteer's
 * machine. They are checked on both sides; nothing here is ever given to a shell.
 */
import { CopilotError } from '../base/errors';

const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FILE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class JobFieldError extends CopilotError {
  constructor(message: string) {
    super('JOB_FIELD_INVALID', message);
    this.name = 'JobFieldError';
  }
}

export function isValidJobId(id: string): boolean {
  return JOB_ID_PATTERN.test(id) && !id.includes('..');
}

export function assertValidJobId(id: string): string {
  if (!isValidJobId(id)) throw new JobFieldError(`invalid job id ${JSON.stringify(id)}`);
  return id;
}

/** A single path component: no separators, no `..`, no NUL, no leading dot or dash. */
export function isSafeFileName(name: string): boolean {
  return FILE_NAME_PATTERN.test(name) && !name.includes('..');
}

export function assertSafeFileName(name: string): string {
  if (!isSafeFileName(name)) throw new JobFieldError(`unsafe file name ${JSON.stringify(name)}`);
  return name;
}

export function splitList(value: string): string[] {
  return value.split(/\s+/).filter((item) => item !== '');
}

export function joinList(items: readonly string[]): string {
  for (const item of items) {
    if (item === '' || /\s/.test(item)) {
      throw new JobFieldError(`list item ${JSON.stringify(item)} is empty or has white space`);
    }
  }
  return items.join(' ');
}

/** Parses `NAME=value NAME2=value2`. Values cannot hold white space in this encoding. */
export function parseEnvironment(value: string): Record<string, string> {
  // No prototype: `__proto__=x` is a variable like any other, not a silently dropped assignment.
  const environment = Object.create(null) as Record<string, string>;
  for (const pair of splitList(value)) {
    const equals = pair.indexOf('=');
    const name = equals > 0 ? pair.slice(0, equals) : '';
    if (!ENV_NAME_PATTERN.test(name)) {
      throw new JobFieldError(`invalid environment entry ${JSON.stringify(pair)}`);
    }
    environment[name] = pair.slice(equals + 1);
  }
  return environment;
}

export function formatEnvironment(environment: Readonly<Record<string, string>>): string {
  return joinList(
    Object.entries(environment).map(([name, value]) => {
      if (!ENV_NAME_PATTERN.test(name)) throw new JobFieldError(`invalid environment name ${name}`);
      return `${name}=${value}`;
    }),
  );
}
