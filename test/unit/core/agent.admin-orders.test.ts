// The agent and a project admin's orders (adminOrder: drain, pause, resume), over the fake
// channel: only the configured admin accounts are obeyed, a drain lasts across a restart, and
// the volunteer's pause and the admin's hold are each lifted only by their own side.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@copilot/core/agent';
import { ADMIN_ORDER_FILE } from '@copilot/core/admin-orders';
import type { SystemInfoSource } from '@copilot/core/host-jdl';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import type { AgentStatus } from '@copilot/contract/ui-contract';
import type { AdminOrderName } from '@copilot/protocol/commands';
import { FakeChannel, FakeRunner, FakeStorage, JM, jobDescription, scriptedManager } from './fakes';

const MB = 1024 * 1024;
const ADMIN = 'admin@localhost';
const si: SystemInfoSource = {
  osInfo: () => Promise.resolve({ platform: 'linux', arch: 'x64', hostname: 'h', kernel: '6.1' }),
  mem: () => Promise.resolve({ total: 4096 * MB, available: 2048 * MB, swaptotal: 0, swapfree: 0 }),
  fsSize: () => Promise.resolve([{ mount: '/', available: 1024 * MB }]),
  cpu: () => Promise.resolve({ cores: 4 }),
};

let dir: string;
const agents: Agent[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-admin-'));
});
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  agent: Agent;
  channel: FakeChannel;
  runner: FakeRunner;
}

function rig(jobIds: string[]): Rig {
  const channel = new FakeChannel(scriptedManager(jobIds.map((id) => jobDescription({ id }))));
  const runner = new FakeRunner();
  const agent = createAgent({
    settings: {
      ...DEFAULT_SETTINGS,
      jobManagerAddress: JM,
      adminAccounts: ADMIN,
      runOnlyWhenIdle: false,
    },
    dataDir: dir,
    channel,
    runner,
    storage: new FakeStorage(),
    systemInfo: si,
    probeDocker: () => Promise.resolve({ available: true, message: 'Docker 20.10' }),
    replyTimeoutMs: 100,
    fetchBackoff: { initialMs: 30, maxMs: 60, jitter: 0 },
    retryBackoff: { initialMs: 10, maxMs: 20, jitter: 0 },
    resource: 'agent-test',
    sensors: null,
  });
  agents.push(agent);
  return { agent, channel, runner };
}

async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 3000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

function order(channel: FakeChannel, from: string, name: AdminOrderName, reason?: string): void {
  channel.deliver(from, {
    command: 'adminOrder',
    order: name,
    ...(reason === undefined ? {} : { reason }),
  });
}

async function statusWhen(
  agent: Agent,
  test: (status: AgentStatus) => boolean,
): Promise<AgentStatus> {
  return until(async () => {
    const status = await agent.commands.getStatus();
    return test(status) ? status : undefined;
  });
}

describe('createAgent: admin orders', () => {
  it('drain lets the running job finish, asks for no more, survives a restart; resume takes the next job', async () => {
    const { agent, channel, runner } = rig(['job-1', 'job-2']);
    runner.hold = true;
    await agent.start();
    await until(() => runner.specs.length > 0);
    order(channel, `${ADMIN}/console`, 'drain', 'maintenance\nat 18:00');
    const draining = await statusWhen(agent, (status) => status.admin?.order === 'drain');
    expect(draining.admin).toMatchObject({ by: ADMIN, reason: 'maintenance at 18:00' });
    expect(draining.statusLine).toMatch(
      /^Running job job-1 for .*; draining for the project admin \(maintenance at 18:00\)$/,
    );
    const asked = channel.commands('want_getJob').length;
    runner.release();
    const drained = await statusWhen(agent, (status) => status.running.length === 0);
    expect(drained).toMatchObject({ activity: 'paused', paused: false });
    expect(drained.statusLine).toBe('Drained by the project admin (maintenance at 18:00)');
    expect((await agent.commands.getJobs()).history.map((job) => job.state)).toEqual(['done']);
    await sleep(300);
    expect(channel.commands('want_getJob')).toHaveLength(asked);
    expect(fs.existsSync(path.join(dir, ADMIN_ORDER_FILE))).toBe(true);

    await agent.stop();
    const again = rig(['job-2']);
    await again.agent.start();
    await sleep(300);
    expect(again.channel.commands('want_getJob')).toHaveLength(0);
    expect((await again.agent.commands.getStatus()).admin?.order).toBe('drain');
    const log = await again.agent.commands.getLog();
    expect(log.some((entry) => /admin order from before the restart/.test(entry.message))).toBe(
      true,
    );

    order(again.channel, `${ADMIN}/console`, 'resume');
    await until(() => again.runner.specs.some((spec) => spec.jobId === 'job-2'));
    expect(fs.existsSync(path.join(dir, ADMIN_ORDER_FILE))).toBe(false);
    expect((await again.agent.commands.getStatus()).admin).toBeNull();
  });

  it('refuses orders from anyone but an admin account, the managers too, and logs them', async () => {
    const { agent, channel, runner } = rig(['job-1']);
    runner.hold = true;
    await agent.start();
    order(channel, 'mallory@localhost/x', 'drain');
    order(channel, `${JM}/generic`, 'pause');
    order(channel, 'admin@localhost.evil.example/x', 'pause');
    await until(() => runner.specs.length > 0);
    await sleep(100);
    const status = await agent.commands.getStatus();
    expect(status.admin).toBeNull();
    expect(status.activity).toBe('running');
    expect(runner.calls).not.toContain('pause job-1');
    const refused = (await agent.commands.getLog()).filter((entry) =>
      /admin order from a JID that is not one of our admins refused/.test(entry.message),
    );
    expect(refused.map((entry) => entry.fields?.from)).toEqual([
      'mallory@localhost/x',
      `${JM}/generic`,
      'admin@localhost.evil.example/x',
    ]);
    runner.release();
  });

  it('an admin pause freezes the job; the volunteer’s Resume does not lift it, the admin’s resume does', async () => {
    const { agent, channel, runner } = rig(['job-1']);
    runner.hold = true;
    await agent.start();
    await until(() => runner.specs.length > 0);
    order(channel, `${ADMIN}/console`, 'pause');
    const paused = await statusWhen(agent, (status) => status.admin?.order === 'pause');
    expect(paused).toMatchObject({ activity: 'paused', paused: false });
    expect(paused.statusLine).toBe('Paused by the project admin');
    await until(() => runner.calls.includes('pause job-1'));
    const afterVolunteer = await agent.commands.resume();
    expect(afterVolunteer.statusLine).toBe('Paused by the project admin');
    expect(runner.calls).not.toContain('resume job-1');
    order(channel, `${ADMIN}/console`, 'resume');
    await until(() => runner.calls.includes('resume job-1'));
    expect((await agent.commands.getStatus()).activity).toBe('running');
    runner.release();
  });

  it('the volunteer’s pause wins: an admin resume does not lift it', async () => {
    const { agent, channel, runner } = rig(['job-1']);
    runner.hold = true;
    await agent.start();
    await until(() => runner.specs.length > 0);
    await agent.commands.pause();
    order(channel, `${ADMIN}/console`, 'pause', 'quota');
    await statusWhen(agent, (status) => status.admin?.order === 'pause');
    expect((await agent.commands.getStatus()).statusLine).toBe('Paused');
    order(channel, `${ADMIN}/console`, 'resume');
    const status = await statusWhen(agent, (current) => current.admin === null);
    expect(status).toMatchObject({ activity: 'paused', paused: true, statusLine: 'Paused' });
    await sleep(100);
    expect(runner.calls).not.toContain('resume job-1');
    await agent.commands.resume();
    await until(() => runner.calls.includes('resume job-1'));
    runner.release();
  });
});
