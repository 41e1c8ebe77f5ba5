/**
 * The headless agent's idle footprint: src/cli/copilot-agent.ts (bundled to plain node, as a
 * built dist file would run) connected to the harness Prosody with a manager that has no jobs,
 * sampled from /proc for a fixed time after it settled.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcess, type ProsodyServer, type XmppUser } from '@test/harness';
import { bundleEntry } from './lib/bundle';
import { ProcSampler, processTree, type UsageSummary } from './lib/proc-stats';
import { sleep } from './lib/stats';

export interface AgentFootprintResult {
  runtime: string;
  settleSeconds: number;
  usage: UsageSummary;
  /** Processes in the agent's tree at the end (1 = no helpers). */
  processes: number;
  /** Lines it logged while sampled (it backs off while no manager offers a job). */
  logLines: number;
}

export async function measureAgentFootprint(options: {
  prosody: ProsodyServer;
  account: XmppUser;
  managerAddress: string;
  seconds: number;
  log: (line: string) => void;
}): Promise<AgentFootprintResult> {
  const script = await bundleEntry('src/cli/copilot-agent.ts', 'copilot-agent');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-bench-agent-'));
  const configPath = path.join(workDir, 'copilot-agent.conf');
  fs.writeFileSync(
    configPath,
    [
      `JM_JABBER_ADDRESS ${options.managerAddress}`,
      `AGENT_JABBER_SERVER 127.0.0.1:${options.prosody.port}`,
      `AGENT_JABBER_DOMAIN ${options.prosody.domain}`,
      `AGENT_JABBER_ID ${options.account.username}`,
      `AGENT_JABBER_PASSWORD ${options.account.password}`,
      `AGENT_WORK_DIR ${path.join(workDir, 'work')}`,
      'AGENT_LOG_LEVEL info',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const agent = await startProcess({
    name: 'bench-agent',
    command: process.execPath,
    args: [script, '--config', configPath],
    cwd: workDir,
    readyTimeoutMs: 30_000,
    ready: async (self, signal) => {
      while (!signal.aborted) {
        if (/\bonline\b/.test(self.logTail(200))) return;
        await sleep(100);
      }
    },
  });
  try {
    const settleSeconds = 5;
    await sleep(settleSeconds * 1000);
    options.log(`  agent pid ${agent.pid} online; sampling ${options.seconds} s`);
    const sampler = new ProcSampler(agent.pid, 1000).start();
    const linesBefore = agent.logTail(100_000).split('\n').length;
    await sleep(options.seconds * 1000);
    const usage = sampler.stop();
    const processes = processTree(agent.pid).length;
    const logLines = agent.logTail(100_000).split('\n').length - linesBefore;
    return {
      runtime: `node ${process.version} (esbuild bundle)`,
      settleSeconds,
      usage,
      processes,
      logLines,
    };
  } finally {
    await agent.stop(10_000);
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}
