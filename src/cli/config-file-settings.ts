import { keysWhere } from '../contract/settings-derive';
import { SETTINGS_SPEC } from '../contract/settings-spec';
import type { AgentSettings, SettingsError } from '../contract/ui-contract';
import type { AgentHost } from '../core/agent-host';
import { attachProject } from '../core/attach-project';
import type { Logger } from '../base/logger';
import { writeProjectFile } from './attached-project';

/** Where an attach over the GUI RPC keeps the project (AGENT_WORK_DIR/project.conf). */
export interface HeadlessAttach {
  workDir: string;
  logger: Logger;
}

/**
 * Settings a headless agent takes only from its config file (the spec's headless 'config-file').
 * Changing them over the GUI RPC would be lost (or would silently beat the file an admin edits),
 * so such a change is refused.
 */
export const CONFIG_FILE_FIELDS = keysWhere(
  SETTINGS_SPEC,
  (entry) => entry.headless === 'config-file',
) as ReadonlyArray<keyof AgentSettings>;

/**
 * Wraps the agent so setSettings refuses changes to CONFIG_FILE_FIELDS, naming the file. With
 * `attach`, attachProject is the one way past that: it writes the project file the next start
 * reads, then applies the project's settings to the running agent.
 */
export function withConfigFileSettings(
  agent: AgentHost,
  configSource: string,
  attach?: HeadlessAttach,
): AgentHost {
  const setSettings: AgentHost['commands']['setSettings'] = async (patch) => {
    const current = await agent.commands.getSettings();
    const errors: SettingsError[] = [];
    for (const field of CONFIG_FILE_FIELDS) {
      if (field in patch && patch[field] !== current[field]) {
        errors.push({ field, message: `set in ${configSource}; edit that file and restart` });
      }
    }
    if (errors.length > 0) return { ok: false, errors };
    return agent.commands.setSettings(patch);
  };
  const attachCommand: AgentHost['commands']['attachProject'] = async (link) =>
    // With a project attached already, the agent (a project set) adds one beside it.
    attach === undefined || (await agent.commands.getSettings()).jobManagerAddress !== ''
      ? agent.commands.attachProject(link)
      : attachProject(link, {
          logger: attach.logger,
          apply: async (patch) => {
            writeProjectFile(attach.workDir, patch);
            return agent.commands.setSettings(patch);
          },
        });
  return {
    commands: { ...agent.commands, setSettings, attachProject: attachCommand },
    events: agent.events,
    start: () => agent.start(),
    stop: () => agent.stop(),
    reportIdleSeconds: (seconds) => agent.reportIdleSeconds(seconds),
  };
}
