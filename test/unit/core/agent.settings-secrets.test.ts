import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@copilot/core/agent';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentSettings } from '@copilot/contract/ui-contract';
import { FakeChannel, FakeRunner, FakeStorage, JM } from './fakes';

const PASSWORD = 'correct horse battery staple';

let dir: string;
let agent: Agent | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-secrets-'));
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the agent never hands out its password', () => {
  it('getSettings and setSettings return it blanked, with xmppPasswordSet; a new one is taken', async () => {
    const persisted: AgentSettings[] = [];
    agent = createAgent({
      settings: { ...DEFAULT_SETTINGS, jobManagerAddress: JM, xmppPassword: PASSWORD },
      dataDir: dir,
      persistSettings: (next) => {
        persisted.push(next);
      },
      channel: new FakeChannel(() => undefined),
      runner: new FakeRunner(),
      storage: new FakeStorage(),
      resource: 'agent-test',
    });
    const shown = await agent.commands.getSettings();
    expect(shown).toMatchObject({ xmppPassword: '', xmppPasswordSet: true });
    expect(JSON.stringify(shown)).not.toContain(PASSWORD);

    // An empty password in a patch keeps the stored one.
    const kept = await agent.commands.setSettings({ xmppPassword: '', cpuLimitPercent: 30 });
    expect(kept).toMatchObject({ ok: true, settings: { xmppPassword: '', xmppPasswordSet: true } });
    expect(JSON.stringify(kept)).not.toContain(PASSWORD);
    expect(persisted.at(-1)).toMatchObject({ xmppPassword: PASSWORD, cpuLimitPercent: 30 });

    const changed = await agent.commands.setSettings({ xmppPassword: 'new one' });
    expect(JSON.stringify(changed)).not.toContain('new one');
    expect(persisted.at(-1)?.xmppPassword).toBe('new one');
  });
});
