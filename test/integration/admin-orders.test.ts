/**
 * A project admin's orders (adminOrder, ours) on real servers: Prosody, the real manager
 * (startJobManager), the real agent (createAgent, jobs in Docker) and an admin console session.
 *
 * - A drain from the admin account lets the running job finish (jobDone arrives, its result is
 *   right) and then no more work is asked for: a second queued job stays queued, and the
 *   manager hears no want_getJob from the agent. The agent says so in its status and answers
 *   `Heartbeat:getStatus component=agentState` with `drained 0/1: <reason>`.
 * - Resume from the admin makes it take the second job.
 * - The same drain from another account (and from the manager's own) is refused and counted in
 *   the agent's log; the agent goes on taking work.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import type { JobRecord } from '@manager/job-manager/job-record';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { createAgent, type Agent } from '@copilot/core/agent';
import { bareJid, type Command, type CommandMessage } from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { ensureDocker, startTestXmppServer, type XmppServer, until } from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const PASSWORD = 'admin-orders-pw';
const ROOM = 'pilots-lounge';
const AGENT_NICK = 'volunteer-1';
const LONG_JOB = '#!/bin/bash\nsleep 6\necho "2+2" | bc\n';
const QUICK_JOB = '#!/bin/bash\necho "3+4" | bc\n';

let prosody: XmppServer;
let docker: Docker;
let root: string;
let manager: RunningJobManager;
let agent: Agent;
let agentJid: string;
const agentLog: LogRecord[] = [];
/** What the manager's session received, in order. */
const managerInbox: CommandMessage[] = [];
const sessions: CopilotSession[] = [];
/** Heartbeat answers the admin console received. */
const consoleInbox: CommandMessage[] = [];

async function session(username: string, resource: string): Promise<CopilotSession> {
  const opened = new CopilotSession({
    service: prosody.service,
    domain: prosody.domain,
    username,
    password: PASSWORD,
    resource,
    ackTimeoutMs: 1000,
    maxSendAttempts: 3,
  });
  sessions.push(opened);
  await opened.start();
  return opened;
}

beforeAll(async () => {
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      ...['agent1', 'admin', 'mallory'].map((username) => ({ username, password: PASSWORD })),
    ],
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'admin-orders-'));
  const config = loadJobManagerConfig(
    [],
    localManagerValues(prosody, path.join(root, 'jm'), { JM_LEASE_SECONDS: '600' }),
  );
  manager = await startJobManager(config, {
    logger: createLogger('jm', () => undefined),
    session: { ackTimeoutMs: 1000 },
  });
  manager.session.onCommand((message) => {
    managerInbox.push(message);
  });
  agent = createAgent({
    settings: localAgentSettings(prosody, 'agent1', PASSWORD, {
      adminAccounts: prosody.jid('admin'),
      heartbeatChatServer: prosody.mucDomain,
      heartbeatChatRoom: ROOM,
      jobSlots: 1,
      cpuLimitPercent: 100,
      memoryLimitMb: 256,
      diskLimitMb: 200,
    }),
    dataDir: path.join(root, 'agent1-data'),
    docker,
    resource: AGENT_NICK,
    replyTimeoutMs: 3000,
    fetchBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.3 },
    retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000 },
    logLevel: 'debug',
    echoLog: (record) => agentLog.push(record),
  });
  await agent.start();
  agentJid = await until('the agent to come online', () =>
    agent.session?.isOnline ? agent.session.jid : undefined,
  );
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  for (const opened of sessions.splice(0)) await opened.stop();
  await manager?.stop();
  await prosody?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function submit(name: string, text: string): Promise<JobRecord> {
  const dir = fs.mkdtempSync(path.join(root, 'src-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return submitJob(manager.queue, manager.paths, { commandFile: file });
}

async function waitDone(id: string, timeoutMs = 60_000): Promise<JobRecord> {
  const job = await waitForJob(manager.queue, id, timeoutMs, 100);
  if (!job) throw new Error(`job ${id} did not finish in ${timeoutMs} ms`);
  return job;
}

function stdoutOf(id: string): string {
  return fs.readFileSync(path.join(manager.config.doneJobDir, id, 'stdout'), 'utf8');
}

/** want_getJob the manager heard from the agent's account. */
function wantsFromAgent(): number {
  return managerInbox.filter(
    (message) =>
      message.command.command === 'want_getJob' &&
      bareJid(message.from).toLowerCase() === prosody.jid('agent1').toLowerCase(),
  ).length;
}

function refusals(): LogRecord[] {
  return agentLog.filter((record) => /not one of our admins refused/.test(record.message));
}

/** Asks the agent, through the Heartbeat room, for its agentState; the answer's status. */
async function askAgentState(console: CopilotSession): Promise<string> {
  const before = consoleInbox.length;
  await console.send(
    `${ROOM}@${prosody.mucDomain}/${AGENT_NICK}`,
    { command: 'Heartbeat:getStatus', component: 'agentState' },
    { type: 'chat' },
  );
  const answer = await until('the agent to answer agentState', () => {
    const reply = consoleInbox
      .slice(before)
      .find((message) => message.command.command === 'haveStatus');
    return reply?.command;
  });
  return answer.command === 'haveStatus' ? answer.status : '';
}

describe('admin orders on real servers', () => {
  it('drain finishes the running job, then asks for nothing; resume takes the next; others are refused', async () => {
    const admin = await session('admin', 'console');
    admin.onCommand((message) => {
      consoleInbox.push(message);
    });
    admin.joinRoom(`${ROOM}@${prosody.mucDomain}`, 'admin-console');
    await sleep(500);
    expect(await askAgentState(admin)).toBe('idle 0/1');

    const first = await submit('long.sh', LONG_JOB);
    await until('the first job to be leased to the agent', async () => {
      const job = await manager.queue.get(first.id);
      return job?.state === 'running' || job?.state === 'leased' ? job : undefined;
    });
    const drain: Command = { command: 'adminOrder', order: 'drain', reason: 'kernel update' };
    await admin.send(agentJid, drain);
    const draining = await until('the agent to take the drain', async () => {
      const status = await agent.commands.getStatus();
      return status.admin?.order === 'drain' ? status : undefined;
    });
    expect(draining.statusLine).toMatch(/draining for the project admin \(kernel update\)$/);
    expect(await askAgentState(admin)).toBe('draining 1/1: kernel update');
    const second = await submit('quick.sh', QUICK_JOB);

    const done = await waitDone(first.id);
    expect(done.state).toBe('done');
    expect(stdoutOf(first.id).trim()).toBe('4');
    const asked = wantsFromAgent();
    await sleep(5000);
    expect((await manager.queue.get(second.id))?.state).toBe('queued');
    expect(wantsFromAgent()).toBe(asked);
    const drained = await agent.commands.getStatus();
    expect(drained.statusLine).toBe('Drained by the project admin (kernel update)');
    expect(await askAgentState(admin)).toBe('drained 0/1: kernel update');

    await admin.send(agentJid, { command: 'adminOrder', order: 'resume' });
    const resumed = await waitDone(second.id);
    expect(resumed.state).toBe('done');
    expect(stdoutOf(second.id).trim()).toBe('7');
    expect((await agent.commands.getStatus()).admin).toBeNull();

    // Another account's drain, and the manager's own, are refused (acknowledged, not obeyed).
    const mallory = await session('mallory', 'console');
    await mallory.send(agentJid, { command: 'adminOrder', order: 'drain', reason: 'mine now' });
    await manager.session.send(agentJid, { command: 'adminOrder', order: 'pause' });
    await until('the agent to log both refusals', () => refusals().length >= 2 || undefined);
    expect(refusals().map((record) => bareJid(String(record.fields?.from)))).toEqual([
      prosody.jid('mallory'),
      prosody.jid('jm'),
    ]);
    expect(refusals().at(-1)?.fields?.refusedSoFar).toBe(2);
    const third = await submit('quick.sh', QUICK_JOB);
    expect((await waitDone(third.id)).state).toBe('done');
    expect((await agent.commands.getStatus()).admin).toBeNull();
    const log = await agent.commands.getLog(1000);
    expect(log.filter((entry) => /^admin order taken/.test(entry.message))).toHaveLength(2);
  }, 180_000);
});
