import { describe, expect, it } from 'vitest';
import { applySettingsPatch, DEFAULT_SETTINGS, publicSettings } from '@copilot/contract/settings';
import type { AgentSettings } from '@copilot/contract/ui-contract';
import type { AgentHost, AgentHostEvents } from '@copilot/core/agent-host';
import { withConfigFileSettings } from '@copilot/cli/config-file-settings';
import { TypedEmitter } from '@copilot/base/typed-emitter';

function settingsOnlyAgent(initial: AgentSettings): AgentHost {
  let settings = initial;
  const unused = (): never => {
    throw new Error('not used in this test');
  };
  return {
    events: new TypedEmitter<AgentHostEvents>(),
    start: unused,
    stop: unused,
    reportIdleSeconds: unused,
    commands: {
      getStatus: unused,
      getJobs: unused,
      getLog: unused,
      pause: unused,
      resume: unused,
      finishThenPause: unused,
      suspendJob: unused,
      resumeJob: unused,
      abortJob: unused,
      previewAttachLink: unused,
      attachProject: unused,
      checkContainerEngine: unused,
      detachProject: unused,
      setProjectPaused: unused,
      setProjectShare: unused,
      getSettings: async () => publicSettings(settings),
      setSettings: async (patch) => {
        const result = applySettingsPatch(settings, patch);
        if (result.errors.length > 0) return { ok: false, errors: result.errors };
        settings = result.settings;
        return { ok: true, settings: publicSettings(settings) };
      },
    },
  };
}

describe('headless agent settings over the GUI RPC', () => {
  const initial = { ...DEFAULT_SETTINGS, xmppServer: 'xmpp.example.org', xmppPassword: 'secret' };

  it('refuses a change to the account, naming the config file', async () => {
    const agent = withConfigFileSettings(
      settingsOnlyAgent(initial),
      '/etc/copilot/copilot-agent.conf',
    );
    const result = await agent.commands.setSettings({
      xmppServer: 'evil.example.org',
      cpuLimitPercent: 20,
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          field: 'xmppServer',
          message: 'set in /etc/copilot/copilot-agent.conf; edit that file and restart',
        },
      ],
    });
    expect((await agent.commands.getSettings()).cpuLimitPercent).toBe(
      DEFAULT_SETTINGS.cpuLimitPercent,
    );
  });

  it('passes policy changes, and account fields sent back unchanged (as a settings form does)', async () => {
    const agent = withConfigFileSettings(settingsOnlyAgent(initial), 'agent.conf');
    // The form gets the password blank (it is write-only) and sends it back blank.
    const result = await agent.commands.setSettings({
      ...initial,
      xmppPassword: '',
      cpuLimitPercent: 20,
      jobSlots: 2,
    });
    expect(result.ok).toBe(true);
    expect(await agent.commands.getSettings()).toMatchObject({
      cpuLimitPercent: 20,
      jobSlots: 2,
      xmppPassword: '',
      xmppPasswordSet: true,
    });
    const typed = await agent.commands.setSettings({ xmppPassword: 'other' });
    expect(typed).toMatchObject({ ok: false, errors: [{ field: 'xmppPassword' }] });
  });
});
