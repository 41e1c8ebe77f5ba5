/** The configuration file of the manager's command-line tools (the manager, monitor, heartbeat). */
import fs from 'node:fs';
import { ConfigError, parseConfigText } from './';
import { errorMessage } from '../base/errors';

/**
 * The variables of the file named with --config (which must then be readable), else of the
 * default path when it exists, else none.
 */
export function readConfigFile(
  configPath: string | undefined,
  defaultPath: string,
): { file: Map<string, string>; configPath: string | undefined } {
  const chosen = configPath ?? (fs.existsSync(defaultPath) ? defaultPath : undefined);
  if (chosen === undefined) return { file: new Map(), configPath: undefined };
  let text: string;
  try {
    text = fs.readFileSync(chosen, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${chosen}: ${errorMessage(error)}`);
  }
  return { file: parseConfigText(text, chosen), configPath: chosen };
}
