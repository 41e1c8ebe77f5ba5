/**
 * `copilot-agent --attach LINK|FILE`: reads the link (or the `.copilot` file holding it),
 * creates this computer's XMPP account with its invite (src/core/attach-project.ts) and writes
 * AGENT_WORK_DIR/project.conf; the agent then starts with that project.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SETTINGS, publicSettings } from '../contract/settings';
import { attachProject } from '../core/attach-project';
import { consoleLogger } from '../base/logger';
import {
  ConfigError,
  ConfigValues,
  parseConfigArgs,
  parseConfigText,
} from '../protocol/config-file';
import { ATTACH_LINK_PREFIX, MAX_ATTACH_FILE_BYTES } from '../protocol/attach-link';
import { errorMessage } from '../base/errors';
import { readProjectFile, writeProjectFile } from './attached-project';
import { addStoredProject } from './headless-projects';
import { PROJECTS_FILE } from '../core/project-store';
import { DEFAULT_CONFIG_PATH } from './agent-config';

/** The value of `--attach VALUE` or `--attach=VALUE`, if given. */
export function attachArgument(argv: readonly string[]): string | undefined {
  const index = argv.findIndex((arg) => arg === '--attach' || arg.startsWith('--attach='));
  if (index < 0) return undefined;
  const arg = argv[index] ?? '';
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[index + 1];
  if (value === undefined || value === '' || value.startsWith('--')) {
    throw new ConfigError(
      '--attach needs a link (copilot://attach?…) or a .copilot file',
      'attach',
    );
  }
  return value;
}

export function withoutAttachArgument(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    if (arg === '--attach') index += 1;
    else if (!arg.startsWith('--attach=')) out.push(arg);
  }
  return out;
}

/** The link's text: the argument itself, or the content of the file it names. */
function linkText(value: string): string {
  if (value.toLowerCase().startsWith(ATTACH_LINK_PREFIX)) return value;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(value);
  } catch (error) {
    throw new ConfigError(`--attach: cannot read ${value}: ${errorMessage(error)}`, 'attach');
  }
  if (!stat.isFile() || stat.size > MAX_ATTACH_FILE_BYTES) {
    throw new ConfigError(`--attach: ${value} is not a .copilot file`, 'attach');
  }
  return fs.readFileSync(value, 'utf8');
}

/**
 * AGENT_WORK_DIR as the agent will read it (arguments, environment, config file), and whether a
 * project is attached already (the config file's, or project.conf): then the link adds one more.
 */
function workDirOf(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { workDir: string; attached: boolean } {
  const args = parseConfigArgs(withoutAttachArgument(argv));
  const configPath =
    args.configPath ??
    env.COPILOT_AGENT_CONFIG ??
    (fs.existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  const file =
    configPath === undefined
      ? new Map<string, string>()
      : parseConfigText(fs.readFileSync(configPath, 'utf8'), configPath);
  const values = ConfigValues.from({ file, env, overrides: args.overrides });
  const workDir = path.resolve(values.required('AGENT_WORK_DIR', 'a writeable directory'));
  const attached =
    values.optional('JM_JABBER_ADDRESS') !== undefined || readProjectFile(workDir) !== undefined;
  return { workDir, attached };
}

/**
 * Does the attach when argv asks for one. True: nothing to do, or attached (printed on
 * stderr); false: the attach failed (printed), and the agent should not start.
 */
export async function attachFromCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<boolean> {
  const value = attachArgument(argv);
  if (value === undefined) return true;
  const { workDir, attached } = workDirOf(argv, env);
  let where = path.join(workDir, 'project.conf');
  let monitor = '';
  const result = await attachProject(linkText(value), {
    logger: consoleLogger('attach', 'info'),
    apply: (patch) => {
      monitor = patch.monitorAddress ?? '';
      // A project runs already: this one is added beside it (src/core/project-set.ts).
      if (attached)
        where = `${path.join(workDir, PROJECTS_FILE)}, project ${addStoredProject(workDir, patch)}`;
      else writeProjectFile(workDir, patch);
      return Promise.resolve({
        ok: true,
        settings: publicSettings({ ...DEFAULT_SETTINGS, ...patch }),
      });
    },
  });
  if (!result.ok) {
    process.stderr.write(`copilot-agent: cannot attach: ${result.error}\n`);
    return false;
  }
  process.stderr.write(
    `copilot-agent: attached to ${result.projectName} as ${result.jid} (${where})\n`,
  );
  if (monitor !== '') {
    process.stderr.write(`copilot-agent: it reports its load and jobs to ${monitor}\n`);
  }
  return true;
}
