/**
 * Issue #11's attacks, made by an outsider: "mallory", an ordinary account on the same XMPP
 * server, against the real manager (startJobManager) and the real agent (createAgent, jobs in
 * Docker) over a real Prosody. Each attack must fail, and nothing may be lost: the real job
 * still ends `done` once, with its real output.
 *
 * - A stranger cannot take a job's output directory or forge its result (the manager honours a
 *   lease only from the account that holds it; the agent takes storage orders only from its
 *   managers).
 * - A stranger cannot give the agent work.
 * - A jobDone the manager cannot archive is not acknowledged: the agent keeps resending it and
 *   the job finishes once the done dir is back.
 * - A final storage refusal (413) ends the job as upload-failed at once; a job cancelled by an
 *   operator is dropped by the agent as soon as it asks to deliver it.
 * - Hostile and random commands leave the manager working.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { xml, type Element } from '@xmpp/xml';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import type { JobRecord } from '@manager/job-manager/job-record';
import { cancelJob, submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import type { JobHistoryRecord } from '@copilot/contract/ui-contract';
import { createAgent, type Agent, type AgentOptions } from '@copilot/core/agent';
import {
  COPILOT_NS,
  bareJid,
  decodeStanza,
  type Command,
  type CommandMessage,
  type CommandName,
  type CommandOf,
} from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import {
  connectXmpp,
  ensureDocker,
  startTestXmppServer,
  testXmppServerKind,
  type XmppServer,
  type XmppSession,
  until,
} from '@test/harness';
import { localAgentSettings, localManagerValues, MANAGER_PASSWORD } from './local-settings';

const AGENT_PASSWORD = 'volunteer-pw';
const MALLORY = { username: 'mallory', password: 'mallory-pw' };
const AGENT_USERS = ['agent1', 'agent2', 'agent3', 'agent4', 'agent5', 'agent6'];
const CALCULATOR = '#!/bin/bash\necho "2+2" | bc\n';
/** A marker the hostile values name; it must never be created. */
const MARKER = '/tmp/copilot-trust-boundaries-marker';

let prosody: XmppServer;
let docker: Docker;
let root: string;
let mallory: CopilotSession;
let malloryHttp: MalloryHttp;
const malloryInbox: CommandMessage[] = [];
const agents: Agent[] = [];
const managers: RunningJobManager[] = [];
const rawSessions: XmppSession[] = [];

/** An HTTP server of mallory's: it records every request, to show nobody was sent to it. */
interface MalloryHttp {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

async function startMalloryHttp(): Promise<MalloryHttp> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method ?? '?'} ${request.url ?? ''}`);
    request.resume();
    request.on('end', () => {
      response.writeHead(request.method === 'PUT' ? 201 : 200);
      response.end('#!/bin/sh\ntouch /tmp/copilot-trust-boundaries-marker\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

beforeAll(async () => {
  fs.rmSync(MARKER, { force: true });
  docker = await ensureDocker();
  prosody = await startTestXmppServer({
    users: [
      { username: 'jm', password: MANAGER_PASSWORD },
      MALLORY,
      ...AGENT_USERS.map((username) => ({ username, password: AGENT_PASSWORD })),
    ],
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'trust-boundaries-'));
  malloryHttp = await startMalloryHttp();
  mallory = new CopilotSession({
    service: prosody.service,
    domain: prosody.domain,
    ...MALLORY,
    resource: 'mallory',
    ackTimeoutMs: 500,
    maxSendAttempts: 3,
  });
  mallory.onCommand((message) => {
    malloryInbox.push(message);
  });
  await mallory.start();
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  for (const manager of managers.splice(0)) await manager.stop();
  for (const raw of rawSessions.splice(0)) await raw.stop();
});

afterAll(async () => {
  await mallory?.stop();
  await malloryHttp?.close();
  await prosody?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

interface ManagerUnderTest {
  manager: RunningJobManager;
  log: LogRecord[];
  /** Every command the manager's session received, in order (across restarts). */
  received: CommandMessage[];
  /** Stops the manager and starts it again on the same state (a manager restart). */
  restart(offlineMs: number): Promise<RunningJobManager>;
}

async function startManager(
  name: string,
  extra: Record<string, string> = {},
): Promise<ManagerUnderTest> {
  const log: LogRecord[] = [];
  const received: CommandMessage[] = [];
  const config = loadJobManagerConfig(
    [],
    localManagerValues(prosody, path.join(root, name), { JM_LEASE_SECONDS: '600', ...extra }),
  );
  const launch = async (): Promise<RunningJobManager> => {
    const manager = await startJobManager(config, {
      logger: createLogger('jm', (record) => log.push(record)),
      session: { ackTimeoutMs: 1000 },
    });
    managers.push(manager);
    manager.session.onCommand((message) => {
      received.push(message);
    });
    return manager;
  };
  const running: ManagerUnderTest = {
    manager: await launch(),
    log,
    received,
    restart: async (offlineMs) => {
      await running.manager.stop();
      managers.splice(managers.indexOf(running.manager), 1);
      await sleep(offlineMs);
      running.manager = await launch();
      return running.manager;
    },
  };
  return running;
}

interface AgentUnderTest {
  agent: Agent;
  log: LogRecord[];
  /** Full JID of the agent's session. */
  jid: string;
}

async function startAgent(
  user: string,
  extra: Partial<AgentOptions> = {},
): Promise<AgentUnderTest> {
  const log: LogRecord[] = [];
  const agent = createAgent({
    settings: localAgentSettings(prosody, user, AGENT_PASSWORD, {
      cpuLimitPercent: 100,
      memoryLimitMb: 256,
      diskLimitMb: 200,
    }),
    dataDir: path.join(root, `${user}-data`),
    docker,
    resource: 'volunteer',
    replyTimeoutMs: 3000,
    fetchBackoff: { initialMs: 300, maxMs: 1500, jitter: 0.3 },
    retryBackoff: { initialMs: 500, maxMs: 2000, jitter: 0.3 },
    session: { ackTimeoutMs: 1000 },
    logLevel: 'debug',
    echoLog: (record) => log.push(record),
    ...extra,
  });
  agents.push(agent);
  await agent.start();
  const jid = await until('the agent to come online', () =>
    agent.session?.isOnline ? agent.session.jid : undefined,
  );
  return { agent, log, jid };
}

function script(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(root, 'src-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

async function submit(manager: RunningJobManager, name: string, text: string): Promise<JobRecord> {
  return submitJob(manager.queue, manager.paths, { commandFile: script(name, text) });
}

async function waitDone(
  manager: RunningJobManager,
  id: string,
  timeoutMs = 45_000,
): Promise<JobRecord> {
  const job = await waitForJob(manager.queue, id, timeoutMs, 100);
  if (!job) throw new Error(`job ${id} did not finish in ${timeoutMs} ms`);
  return job;
}

function stdoutOf(manager: RunningJobManager, id: string): string {
  return fs.readFileSync(path.join(manager.config.doneJobDir, id, 'stdout'), 'utf8');
}

/** `job finished` lines of the manager for this job: one per recorded result. */
function finishedLines(log: readonly LogRecord[], id: string): LogRecord[] {
  return log.filter((record) => record.message === 'job finished' && record.fields?.job === id);
}

async function historyOf(agent: Agent, id: string): Promise<JobHistoryRecord[]> {
  return (await agent.commands.getJobs()).history.filter((record) => record.jobId === id);
}

/** The promise's value, or an error naming what did not happen within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function nextJobEvent(agent: Agent, id: string): Promise<JobHistoryRecord> {
  return new Promise((resolve) => {
    const listener = (record: JobHistoryRecord): void => {
      if (record.jobId !== id) return;
      agent.events.off('job', listener);
      resolve(record);
    };
    agent.events.on('job', listener);
  });
}

/** What mallory received from an account (bare JID), by command name. */
function malloryGot<N extends CommandName>(name: N, fromAccount: string): Array<CommandOf<N>> {
  return malloryInbox
    .filter(
      (message) =>
        message.command.command === name &&
        bareJid(message.from).toLowerCase() === fromAccount.toLowerCase(),
    )
    .map((message) => message.command as CommandOf<N>);
}

function malloryGotAnything(fromAccount: string): string[] {
  return malloryInbox
    .filter((message) => bareJid(message.from).toLowerCase() === fromAccount.toLowerCase())
    .map((message) => message.command.command);
}

/** Mallory sends without waiting for (or needing) an ack. */
function malloryFires(to: string, command: Command): void {
  mallory.send(to, command, { noack: true }).catch(() => undefined);
}

/** Log records of the agent saying it dropped a command from this account. */
function trustDrops(log: readonly LogRecord[], fromAccount: string): LogRecord[] {
  return log.filter(
    (record) =>
      /not one of our managers dropped/.test(record.message) &&
      bareJid(String(record.fields?.from ?? '')).toLowerCase() === fromAccount.toLowerCase(),
  );
}

async function jobContainers(id: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`copilot.job=${id}`] } });
}

describe('an outsider on the same XMPP server', () => {
  it('cannot take a running job’s output dir or forge its result; the job ends done once with 4', async () => {
    const jm = await startManager('steal');
    const { manager, log } = jm;
    const { agent, log: agentLog, jid: agentJid } = await startAgent('agent1');
    const submitted = await submit(
      manager,
      'calculator.sh',
      '#!/bin/bash\nsleep 4\necho "2+2" | bc\n',
    );
    const leased = await until('the job to be leased to the agent', async () => {
      const job = await manager.queue.get(submitted.id);
      return job?.leaseId !== undefined && job.agent !== undefined ? job : undefined;
    });
    expect(bareJid(leased.agent ?? '')).toBe(prosody.jid('agent1'));
    const jmJobData = `lease=${leased.leaseId ?? ''}`;
    const managerAccount = bareJid(manager.jid);
    const agentAccount = bareJid(agentJid);
    const malloryAccount = `${MALLORY.username}@${prosody.domain}`;
    const inboxBefore = malloryInbox.length;
    const httpBefore = malloryHttp.requests.length;

    // Mallory asks the manager for the job's output dir with the real lease, and forges results.
    // Each send resolves once the manager has handled it (it acks after its handler).
    const ask = { agentHost: 'mallory.example', jobID: submitted.id, jmJobData };
    await mallory.send(manager.jid, { command: 'want_getJobOutputDir', ...ask });
    await mallory.send(manager.jid, { command: 'getJobOutputDir', ...ask });
    await mallory.send(manager.jid, { command: 'jobDone', ...ask, exitCode: 0, state: 'done' });
    await mallory.send(manager.jid, { command: 'jobDone', ...ask, exitCode: 1, state: 'failed' });
    const fromManager = (): string[] =>
      malloryInbox
        .slice(inboxBefore)
        .filter((message) => bareJid(message.from) === managerAccount)
        .map((message) => message.command.command);
    expect(fromManager().filter((name) => name !== 'jobRefused')).toEqual([]);
    const during = await manager.queue.get(submitted.id);
    // Mallory's getJobOutputDir would have made it `uploading`, a jobDone `done` or `failed`.
    expect(during?.state).toMatch(/^(leased|running)$/);
    expect(during?.leaseId).toBe(leased.leaseId);
    expect(during?.agent).toBe(leased.agent);
    const refusals = await until('a jobRefused for each of mallory’s four requests', () => {
      const got = malloryGot('jobRefused', managerAccount);
      return got.length >= 4 ? got : undefined;
    });
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ jobID: submitted.id, code: 'lease-lost' });
    }

    // Mallory offers the agent an output dir on its own server, over and over, until the job
    // ends. The manager restarts just as the job finishes, so the agent's first requests for an
    // output dir go unanswered: mallory's offers are the only ones it gets for a while.
    let spamming = true;
    const spam = (async () => {
      while (spamming) {
        malloryFires(agentJid, { command: 'have_getJobOutputDir' });
        malloryFires(agentJid, {
          command: 'storeJobOutputDir',
          outputChirpUrl: malloryHttp.url,
          outputDir: `/steal/${submitted.id}`,
          jobID: submitted.id,
          jmJobData,
        });
        await sleep(100);
      }
    })();
    await until('the job to run', async () =>
      (await agent.commands.getStatus()).running.some((job) => job.phase === 'running'),
    );
    const restarted = jm.restart(7_000);
    await until(
      'the agent to ask for an output dir',
      async () =>
        (await agent.commands.getStatus()).running.some((job) => job.phase === 'uploading'),
      15_000,
    );
    await restarted;
    const finished = await waitForJob(jm.manager.queue, submitted.id, 30_000, 100);
    spamming = false;
    await spam;
    await sleep(500);

    // The agent never took mallory's offers: nothing came back to mallory, nothing was uploaded
    // to it...
    expect(malloryGotAnything(agentAccount)).toEqual([]);
    expect(malloryHttp.requests.slice(httpBefore)).toEqual([]);
    // ...although they reached it: it dropped them as coming from a stranger.
    expect(trustDrops(agentLog, malloryAccount).length).toBeGreaterThan(0);
    // The manager gave mallory neither an output dir nor its offer.
    expect(fromManager().filter((name) => name !== 'jobRefused')).toEqual([]);
    // The real result, once.
    expect(finished).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done', attempts: 1 });
    expect(stdoutOf(manager, submitted.id)).toBe('4\n');
    expect(fs.readdirSync(manager.config.doneJobDir)).toEqual([submitted.id]);
    expect(finishedLines(log, submitted.id)).toHaveLength(1);
    const history = await historyOf(agent, submitted.id);
    expect(history.map((record) => record.state)).toEqual(['done']);
  }, 60_000);

  it('cannot give the agent a job; the agent then runs the manager’s job', async () => {
    const { manager } = await startManager('foreign');
    const { agent, log: agentLog, jid: agentJid } = await startAgent('agent2');
    const foreignId = `foreign-${crypto.randomBytes(4).toString('hex')}`;
    const agentAccount = bareJid(agentJid);
    const httpBefore = malloryHttp.requests.length;
    // The queue is empty: the agent keeps asking the manager and waiting for have_getJob and
    // runJob, while mallory answers in the manager's place.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      malloryFires(agentJid, { command: 'have_getJob' });
      malloryFires(agentJid, {
        command: 'runJob',
        jmJobData: 'lease=forged',
        job: {
          id: foreignId,
          command: 'calculator.sh',
          arguments: '',
          environment: '',
          packages: '',
          inputFiles: 'calculator.sh',
          chirpUrl: malloryHttp.url,
          inputDir: `/input/${foreignId}`,
          outputDir: `/output/${foreignId}`,
        },
      });
      // A stranger's sleep: dropped (it could only ever pause asking the stranger itself).
      malloryFires(agentJid, { command: 'sleep', seconds: 86_400 });
      const status = await agent.commands.getStatus();
      expect(status.running.map((job) => job.jobId)).not.toContain(foreignId);
      await sleep(200);
    }
    await sleep(1_000);

    expect(malloryHttp.requests.slice(httpBefore)).toEqual([]);
    expect(await jobContainers(foreignId)).toEqual([]);
    expect(fs.existsSync(path.join(agent.dataDir, 'jobs', foreignId))).toBe(false);
    expect(await historyOf(agent, foreignId)).toEqual([]);
    // Had the agent believed the have_getJob, it would have sent mallory a getJob.
    expect(malloryGot('getJob', agentAccount)).toEqual([]);
    expect(malloryGotAnything(agentAccount)).toEqual([]);
    expect(trustDrops(agentLog, `${MALLORY.username}@${prosody.domain}`).length).toBeGreaterThan(0);

    // The agent's slot is free and it still asks its manager: the manager's job runs.
    const real = await submit(manager, 'calculator.sh', CALCULATOR);
    const finished = await waitDone(manager, real.id, 30_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0 });
    expect(stdoutOf(manager, real.id)).toBe('4\n');
    expect((await historyOf(agent, real.id)).map((record) => record.state)).toEqual(['done']);
    expect((await agent.commands.getJobs()).history.map((record) => record.jobId)).toEqual([
      real.id,
    ]);
  }, 60_000);

  it('a jobDone the manager cannot archive is not acked: the job waits, then ends done once', async () => {
    const { manager, log, received } = await startManager('durable');
    const { agent } = await startAgent('agent3', {
      session: { ackTimeoutMs: 500, maxSendAttempts: 4 },
      retryBackoff: { initialMs: 300, maxMs: 1000, jitter: 0.2 },
    });
    // As root, a chmod would not stop the manager: a file where the done dir should be does.
    const doneDir = manager.config.doneJobDir;
    fs.rmSync(doneDir, { recursive: true, force: true });
    fs.writeFileSync(doneDir, 'not a directory\n');
    const submitted = await submit(manager, 'calculator.sh', CALCULATOR);
    const jobDones = (): number =>
      received.filter(
        (message) =>
          message.command.command === 'jobDone' && message.command.jobID === submitted.id,
      ).length;
    await until('the agent to send jobDone three times', () => jobDones() >= 3, 20_000);

    const waiting = await manager.queue.get(submitted.id);
    expect(waiting).toMatchObject({ state: 'uploading', attempts: 1 });
    expect(waiting?.exitCode).toBeUndefined();
    expect(waiting?.finishedAt).toBeUndefined();
    expect(finishedLines(log, submitted.id)).toEqual([]);
    // The agent keeps the job and its result.
    const status = await agent.commands.getStatus();
    expect(status.running.map((job) => job.jobId)).toEqual([submitted.id]);
    expect(await historyOf(agent, submitted.id)).toEqual([]);
    expect(fs.existsSync(path.join(agent.dataDir, 'jobs', submitted.id, 'job.json'))).toBe(true);
    expect(
      log.some(
        (record) =>
          /cannot archive the job outputs/.test(record.message) &&
          record.fields?.job === submitted.id,
      ),
    ).toBe(true);

    // The done dir is back: the next resend is recorded.
    const recorded = nextJobEvent(agent, submitted.id);
    fs.rmSync(doneDir, { force: true });
    fs.mkdirSync(doneDir);
    const finished = await waitDone(manager, submitted.id, 40_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0, agentState: 'done', attempts: 1 });
    expect(stdoutOf(manager, submitted.id)).toBe('4\n');
    expect((await recorded).state).toBe('done');
    await sleep(1_500);
    expect(finishedLines(log, submitted.id)).toHaveLength(1);
    expect(fs.readdirSync(doneDir)).toEqual([submitted.id]);
    expect((await historyOf(agent, submitted.id)).map((record) => record.state)).toEqual(['done']);
    expect((await agent.commands.getStatus()).running).toEqual([]);
  }, 60_000);

  it('a storage refusal (413) is final: upload-failed after one round, the job failed', async () => {
    // 21 bytes per file (JM_MAX_UPLOAD_MB is a float in MiB); the job prints 201.
    const { manager, received } = await startManager('cap', { JM_MAX_UPLOAD_MB: '0.00002' });
    expect(manager.config.maxUploadBytes).toBeLessThan(100);
    const { agent, log: agentLog } = await startAgent('agent4');
    const submitted = await submit(
      manager,
      'chatty.sh',
      '#!/bin/bash\nhead -c 200 /dev/zero | tr "\\0" x\necho\n',
    );
    const recorded = nextJobEvent(agent, submitted.id);
    const finished = await waitDone(manager, submitted.id, 30_000);
    expect(finished).toMatchObject({ state: 'failed', agentState: 'upload-failed', attempts: 1 });
    expect((await recorded).state).toBe('upload-failed');
    // One output-dir request: no second round after a refusal that cannot change.
    const rounds = received.filter(
      (message) =>
        message.command.command === 'getJobOutputDir' && message.command.jobID === submitted.id,
    );
    expect(rounds).toHaveLength(1);
    expect(agentLog.filter((record) => record.message === 'upload failed')).toEqual([]);
    expect(
      agentLog.filter((record) => /reporting the job as upload-failed/.test(record.message)),
    ).toHaveLength(1);
    expect((await agent.commands.getStatus()).running).toEqual([]);
  }, 60_000);

  it('a job an operator cancels while it runs is dropped when it ends; the slot takes the next job', async () => {
    const { manager } = await startManager('cancel');
    const { agent } = await startAgent('agent5');
    const doomed = await submit(manager, 'slow.sh', '#!/bin/bash\nsleep 4\necho late\n');
    await until('the job to run on the agent', async () =>
      (await agent.commands.getStatus()).running.some(
        (job) => job.jobId === doomed.id && job.phase === 'running',
      ),
    );
    const dropped = nextJobEvent(agent, doomed.id);
    await cancelJob(manager.queue, doomed.id);
    const cancelledAt = Date.now();
    const next = await submit(manager, 'calculator.sh', CALCULATOR);
    const record = await within(dropped, 15_000, 'the agent dropping the cancelled job');
    // The job ran its 4 s; the agent dropped it at its first request after that, not after its
    // ten upload rounds.
    expect(Date.now() - cancelledAt).toBeLessThan(12_000);
    expect(record.state).toBe('aborted');
    expect(record.error).toMatch(/refused/);
    const finished = await waitDone(manager, next.id, 30_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0 });
    expect(stdoutOf(manager, next.id)).toBe('4\n');
    expect((await manager.queue.get(doomed.id))?.state).toBe('cancelled');
    expect(fs.existsSync(path.join(manager.config.doneJobDir, doomed.id))).toBe(false);
    const history = (await agent.commands.getJobs()).history;
    expect(history.find((entry) => entry.jobId === doomed.id)?.state).toBe('aborted');
    expect(history.find((entry) => entry.jobId === next.id)?.state).toBe('done');
  }, 60_000);

  it('the manager survives 500 hostile and random commands; a real job still completes', async () => {
    const { manager, log } = await startManager('garbage');
    const raw = await connectXmpp(prosody, MALLORY, { resource: 'garbage' });
    rawSessions.push(raw);
    const acked = new Set<string>();
    const refusedToRaw: string[] = [];
    raw.client.on('stanza', (stanza: Element) => {
      if (stanza.name !== 'message') return;
      try {
        const message = decodeStanza(stanza);
        if (message.kind === 'ack') acked.add(message.ackedId);
        if (message.kind === 'command' && message.command.command === 'jobRefused') {
          refusedToRaw.push(message.command.jobID);
        }
      } catch {
        // not ours to read
      }
    });
    const seed = crypto.randomBytes(4).readUInt32LE(0);
    const stanzas = hostileCommands(manager.jid, seed, 500);
    expect(stanzas).toHaveLength(500);
    for (const stanza of stanzas) await raw.client.send(stanza);
    // A well-formed probe last: its ack means every stanza before it was read.
    const probe = `probe-${seed}`;
    await raw.client.send(
      xml(
        'message',
        { to: manager.jid, id: probe },
        ...carried(
          xml('info', {
            command: 'jobDone',
            jobID: 'no-such-job-probe',
            exitCode: '0',
            agentHost: 'h',
            state: 'done',
          }),
        ),
      ),
    );
    await until('the manager to ack the probe', () => acked.has(probe), 30_000);
    await sleep(1_000);

    expect(manager.session.isOnline, `seed ${seed}`).toBe(true);
    expect(refusedToRaw).toContain('no-such-job-probe');
    // Garbage is refused or dropped; no handler blew up on it.
    expect(
      log.filter((record) => /handler failed/.test(record.message)).map((r) => r.fields),
      `seed ${seed}`,
    ).toEqual([]);
    expect(await manager.queue.list()).toEqual([]);
    expect(fs.readdirSync(manager.config.doneJobDir)).toEqual([]);
    expect(fs.existsSync(MARKER)).toBe(false);
    const stored = fs.readdirSync(manager.config.stateDir, { recursive: true }).map(String);
    expect(stored.filter((entry) => /marker|passwd|no-such-job/.test(entry))).toEqual([]);

    // And the manager still does its job.
    const { agent } = await startAgent('agent6');
    const real = await submit(manager, 'calculator.sh', CALCULATOR);
    const finished = await waitDone(manager, real.id, 30_000);
    expect(finished).toMatchObject({ state: 'done', exitCode: 0, attempts: 1 });
    expect(stdoutOf(manager, real.id)).toBe('4\n');
    expect((await historyOf(agent, real.id)).map((record) => record.state)).toEqual(['done']);
    expect(fs.existsSync(MARKER)).toBe(false);
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
// Hostile commands

/** Every attribute each command may carry (required first), as the codec knows them. */
const COMMAND_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  want_getJob: ['agentHost', 'jdl', 'agentIP', 'jmJobData'],
  have_getJob: ['requireFile'],
  getJob: ['agentHost', 'jdl', 'agentIP', 'jmJobData'],
  runJob: ['jmJobData'],
  want_getJobOutputDir: ['agentHost', 'jobID', 'agentIP', 'jmJobData'],
  have_getJobOutputDir: [],
  getJobOutputDir: ['agentHost', 'jobID', 'agentIP', 'jmJobData'],
  storeJobOutputDir: ['outputChirpUrl', 'outputDir', 'jobID', 'jmJobData'],
  jobDone: ['exitCode', 'agentHost', 'state', 'jobID', 'jmJobData', 'jobId'],
  jobRefused: ['jobID', 'code', 'reason'],
  sleep: ['seconds'],
  redirect: ['referral'],
  reportEvent: ['component', 'event'],
  reportEventDuration: ['component', 'event', 'duration'],
  reportEventValue: ['component', 'event', 'value'],
  'Heartbeat:getStatus': ['component'],
  haveStatus: ['component', 'status'],
  'Heartbeat:ping': [],
  pong: [],
  secure: ['key_id', 'nonce', 'session_key'],
  'want_getJob ': ['agentHost', 'jdl'],
  WANT_GETJOB: ['agentHost', 'jdl'],
  '': ['jobID'],
};
const JOB_ATTRIBUTES = [
  'id',
  'command',
  'arguments',
  'environment',
  'packages',
  'inputFiles',
  'chirpUrl',
  'inputDir',
  'outputDir',
  'validation',
];

function base64Of(text: string): string {
  return `__BASE64:${Buffer.from(text, 'utf8').toString('base64')}`;
}

/** Attribute values that have broken parsers before. All are legal XML. */
function hostileValues(random: () => number): string[] {
  return [
    '',
    ' ',
    '..',
    '../../../../tmp/copilot-trust-boundaries-marker',
    '/etc/passwd',
    base64Of('job\u0000../../x'),
    base64Of('\u0000'),
    base64Of('../../../../tmp/copilot-trust-boundaries-marker'),
    `_BASE64:${Buffer.from('a/../b').toString('base64')}`,
    '__BASE64:!!!not base64!!!',
    '__BASE64:wyg=', // invalid UTF-8
    '$(touch /tmp/copilot-trust-boundaries-marker)',
    '`touch /tmp/copilot-trust-boundaries-marker`',
    'NaN',
    '1e309',
    '-1',
    '9007199254740993',
    'lease=' + crypto.randomUUID(),
    'lease=../../x',
    '\u202e\u2028\u2029\ud7ff\ufffd',
    '<info command="jobDone"/>',
    '&amp;&lt;',
    'x'.repeat(1 + Math.floor(random() * 5_000)),
    '[ Requirements = other.Memory >= 1; Rank = ',
  ];
}

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** mulberry32: a small seeded generator, so a failure can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function randomName(random: () => number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_';
  const length = 1 + Math.floor(random() * 12);
  let name = '';
  for (let index = 0; index < length; index += 1) name += pick(random, [...letters]);
  return name;
}

type Variant = 'missing' | 'huge' | 'nul' | 'dotdot' | 'random';

function infoFor(command: string, variant: Variant, random: () => number, depth = 0): Element {
  const names = COMMAND_ATTRIBUTES[command] ?? [];
  const values = hostileValues(random);
  const attrs: Record<string, string> = {};
  if (command !== 'secure') attrs.command = command;
  for (const [index, name] of names.entries()) {
    // missing: drop every other attribute, starting with the first (a required one).
    if (variant === 'missing' && index % 2 === 0) continue;
    // huge: as much as Prosody lets through (256 KiB a stanza), spread over the attributes.
    if (variant === 'huge') attrs[name] = 'H'.repeat(Math.floor(150_000 / names.length));
    else if (variant === 'nul') attrs[name] = base64Of(`${name}\u0000${'\u0000'.repeat(index)}`);
    else if (variant === 'dotdot')
      attrs[name] = pick(random, [
        '..',
        '../../../../tmp/copilot-trust-boundaries-marker',
        '/..',
        'a/../../b',
      ]);
    else attrs[name] = pick(random, values);
  }
  if (random() < 0.3) attrs[randomName(random)] = pick(random, values);
  const children: Element[] = [];
  if (command === 'runJob' && (variant !== 'missing' || random() < 0.5)) {
    const job: Record<string, string> = {};
    for (const name of JOB_ATTRIBUTES) {
      if (variant === 'missing' && random() < 0.5) continue;
      job[name] = variant === 'huge' ? 'J'.repeat(5_000) : pick(random, values);
    }
    children.push(xml('job', job));
  }
  if ((command === 'redirect' || command === 'secure') && depth < 8) {
    const inner = pick(random, Object.keys(COMMAND_ATTRIBUTES));
    children.push(infoFor(inner, variant === 'huge' ? 'random' : variant, random, depth + 1));
  }
  return xml('info', attrs, ...children);
}

/** Random XML inside (or instead of) the body: unknown elements, text, deep nesting. */
function randomXml(random: () => number, depth = 0): Element {
  const values = hostileValues(random);
  const attrs: Record<string, string> = {};
  const count = Math.floor(random() * 4);
  for (let index = 0; index < count; index += 1) attrs[randomName(random)] = pick(random, values);
  const name =
    random() < 0.3 ? pick(random, ['info', 'job', 'body', 'message']) : randomName(random);
  const children: Array<Element | string> = [];
  const childCount = depth < 12 ? Math.floor(random() * 3) : 0;
  for (let index = 0; index < childCount; index += 1) {
    children.push(random() < 0.3 ? pick(random, values) : randomXml(random, depth + 1));
  }
  return xml(name, attrs, ...children);
}

function hostileMessage(to: string, random: () => number, body: Element[], index: number): Element {
  const attrs: Record<string, string> = { to };
  const idKind = random();
  if (idKind < 0.8) attrs.id = `g${index}-${randomName(random)}`;
  else if (idKind < 0.9) attrs.id = 'I'.repeat(2_000);
  // else: no id
  if (random() < 0.1) attrs.noack = pick(random, ['1', '0', 'yes', '']);
  if (random() < 0.1) attrs.type = pick(random, ['chat', 'normal', 'headline', 'bogus']);
  if (random() < 0.05) attrs.ack = pick(random, ['', crypto.randomUUID(), '..']);
  return xml('message', attrs, ...body);
}

/**
 * Command elements as the server in use relays them: inside `<body>` (the report's form, which
 * Prosody keeps), or beside it in our namespace (ejabberd empties `<body>`; README, 2.1).
 */
function carried(...elements: Element[]): Element[] {
  if (testXmppServerKind() === 'prosody') return [xml('body', {}, ...elements)];
  return elements.map((element) =>
    element.name === 'info'
      ? xml('info', { ...element.attrs, xmlns: COPILOT_NS }, ...element.children)
      : element,
  );
}

/**
 * `count` stanzas for `to`: every command name with each of the variants missing, huge,
 * NUL-laden and `..` attributes, then random commands and random XML.
 */
function hostileCommands(to: string, seed: number, count: number): Element[] {
  const random = seededRandom(seed);
  const stanzas: Element[] = [];
  const commands = Object.keys(COMMAND_ATTRIBUTES);
  const variants: Variant[] = ['missing', 'huge', 'nul', 'dotdot'];
  for (const command of commands) {
    for (const variant of variants) {
      const info = infoFor(command, variant, random);
      stanzas.push(hostileMessage(to, random, carried(info), stanzas.length));
    }
  }
  while (stanzas.length < count) {
    const shape = random();
    let body: Element[];
    if (shape < 0.5) {
      body = carried(infoFor(pick(random, commands), 'random', random));
    } else if (shape < 0.65) {
      // Several <info>s, or an <info> among other elements.
      body = carried(
        randomXml(random),
        infoFor(pick(random, commands), 'random', random),
        infoFor(pick(random, commands), 'random', random),
      );
    } else if (shape < 0.9) {
      body = carried(randomXml(random));
    } else if (shape < 0.95) {
      body = [randomXml(random)];
    } else {
      body = [];
    }
    stanzas.push(hostileMessage(to, random, body, stanzas.length));
  }
  return stanzas.slice(0, count);
}
