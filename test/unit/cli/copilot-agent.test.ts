import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHeadlessAgent } from '@copilot/cli/copilot-agent';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-agent-cli-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('startHeadlessAgent', () => {
  it('stops the agent it started when the GUI RPC port cannot be had', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      await expect(
        startHeadlessAgent([], {
          JM_JABBER_ADDRESS: 'jm@localhost',
          // Nothing listens there: the agent stays offline and asks for no work.
          AGENT_JABBER_SERVER: '127.0.0.1:1',
          AGENT_JABBER_ID: 'volunteer@localhost',
          AGENT_JABBER_PASSWORD: 'secret',
          AGENT_WORK_DIR: dir,
          AGENT_GUI_RPC_PORT: String(port),
        }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const log = fs.readFileSync(path.join(dir, 'logs', 'agent.log'), 'utf8');
    expect(log).toContain('agent stopped');
  });
});
