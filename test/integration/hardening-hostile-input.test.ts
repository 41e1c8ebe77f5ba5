/**
 * The hostile corpus (test/fixtures/hostile) against the real components: the job manager
 * (startJobManager: XMPP handler and HTTP storage) and the agent (createAgent). Each hostile
 * input must be refused with a clear log line, write nothing outside its job dir, and leave the
 * component working for the legitimate job that follows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseXml } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobManagerConfig } from '@manager/job-manager/manager-config';
import { startJobManager, type RunningJobManager } from '@manager/job-manager/job-manager';
import { submitJob, waitForJob } from '@manager/job-manager/job-submission';
import { createAgent, type Agent } from '@copilot/core/agent';
import { COPILOT_NS } from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { ScriptedAgent } from '@test/fixtures/hostile/scripted-agent';
import { hostileStanzas, type CorpusForm } from '@test/fixtures/hostile/stanzas/hostile-stanzas';
import {
  connectXmpp,
  ensureDocker,
  startTestXmppServer,
  testXmppServerKind,
  type XmppServer,
  type XmppSession,
} from '@test/harness';
import { localManagerValues, localAgentSettings } from './local-settings';

/** The form in which commands reach a peer through the server in use (ejabberd empties <body>). */
const FORM: CorpusForm = testXmppServerKind() === 'prosody' ? 'report' : 'namespaced';

const USERS = [
  { username: 'jm', password: 'jm-secret' },
  { username: 'agent', password: 'agent-secret' },
  { username: 'mallory', password: 'mallory-secret' },
  { username: 'volunteer', password: 'volunteer-secret' },
];
const ESCAPE_MARKERS = [
  '/tmp/copilot-hostile-dotdot',
  '/tmp/copilot-hostile-absolute',
  '/tmp/copilot-hostile-shell',
  '/tmp/copilot-hostile-runjob',
  '/tmp/copilot-hostile-escape',
];

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every path under dir, relative. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const name of fs.readdirSync(current)) {
      const full = path.join(current, name);
      out.push(path.relative(dir, full));
      if (fs.lstatSync(full).isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

describe('hostile input against the real components', () => {
  let prosody: XmppServer;
  let root: string;
  let manager: RunningJobManager;
  const managerLog: LogRecord[] = [];
  let mallory: XmppSession;
  const sessions: CopilotSession[] = [];

  /** Sends a raw stanza from mallory (the server stamps mallory's JID on it). */
  const sendRaw = async (xml: string): Promise<void> => {
    const element = parseXml(xml);
    if (!element) throw new Error('fixture does not parse');
    await mallory.client.send(element);
  };

  beforeAll(async () => {
    for (const marker of ESCAPE_MARKERS) fs.rmSync(marker, { force: true, recursive: true });
    prosody = await startTestXmppServer({ users: USERS });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-hostile-'));
    const config = loadJobManagerConfig(
      [],
      localManagerValues(prosody, path.join(root, 'jm-state'), {
        JM_MAX_UPLOAD_MB: '0.01',
        JM_LEASE_SECONDS: '60',
      }),
    );
    manager = await startJobManager(config, {
      logger: createLogger('jm', (record) => managerLog.push(record)),
      session: { ackTimeoutMs: 500 },
    });
    mallory = await connectXmpp(prosody, USERS[2] ?? { username: '', password: '' });
  });

  afterAll(async () => {
    await Promise.all(sessions.map((session) => session.stop()));
    await mallory?.stop();
    await manager?.stop();
    await prosody?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('manager: every hostile stanza is refused; the next legitimate job still runs', async () => {
    const corpus = hostileStanzas(`jm@${prosody.domain}`, FORM).filter(
      (stanza) => stanza.target === 'manager' && stanza.file !== 'oversize.xml',
    );
    expect(corpus.length).toBeGreaterThanOrEqual(14);
    for (const stanza of corpus) await sendRaw(stanza.xml);
    // Nested 20,000 deep, well within the size limit: it used to overflow the decoder's stack,
    // and the RangeError ended the manager from xmpp.js's stanza event.
    const nested = `${'<x>'.repeat(20_000)}${'</x>'.repeat(20_000)}`;
    // Written as text: ltx's own serializer would overflow mallory's stack first.
    const [open, close] =
      FORM === 'report' ? ['<body>', '</body>'] : [`<info xmlns='${COPILOT_NS}'>`, '</info>'];
    await mallory.client.write(
      `<message to='jm@${prosody.domain}' id='deep-1'>${open}${nested}${close}</message>`,
    );
    // The oversize stanza last: Prosody may close mallory's stream for it.
    const oversize = hostileStanzas(`jm@${prosody.domain}`, FORM).find(
      (s) => s.file === 'oversize.xml',
    );
    await sendRaw(oversize?.xml ?? '').catch(() => undefined);
    await sleep(1_500);

    // Every request about a malformed or unknown job is refused; the log says so once a minute
    // per sender (anyone may repeat such requests at will).
    const refusals = managerLog.filter((record) => record.message === 'request refused');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]?.fields).toMatchObject({ code: 'unknown-job', why: 'malformed job id' });
    const rejected = managerLog.filter((record) => record.message === 'rejected stanza');
    expect(managerLog.filter((record) => record.message === 'stanza could not be decoded')).toEqual(
      [],
    );
    expect(rejected.map((record) => record.fields?.code)).toEqual(
      expect.arrayContaining([
        'unknown-command',
        'bad-base64',
        'missing-attribute',
        'invalid-attribute',
      ]),
    );
    expect((await manager.queue.list()).length).toBe(0);
    for (const marker of ESCAPE_MARKERS) expect(fs.existsSync(marker)).toBe(false);
    expect(fs.readdirSync(manager.config.doneJobDir)).toEqual([]);

    // A legitimate job after all that.
    const commandFile = path.join(root, 'job.sh');
    fs.writeFileSync(commandFile, '#!/bin/sh\necho hi\n');
    const submitted = await submitJob(manager.queue, manager.paths, { commandFile });
    const session = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username: 'agent',
      password: 'agent-secret',
      resource: 'scripted',
      ackTimeoutMs: 500,
    });
    sessions.push(session);
    await session.start();
    const agent = new ScriptedAgent(session, `jm@${prosody.domain}`);
    await agent.wantJob();
    const runJob = await agent.getJob();
    expect(runJob.job.id).toBe(submitted.id);
    const store = await agent.outputDir(runJob);

    // Storage: over the cap, and file names that try to leave the job dir.
    expect(await agent.upload(store, 'big.bin', Buffer.alloc(20_000, 1))).toBe(413);
    for (const name of ['..%2F..%2Fescape.txt', '%2E%2E', '.hidden', 'a%00b', 'sub%2Fdir.txt']) {
      const status = await agent.upload(store, name, 'x');
      expect(status, name).toBeGreaterThanOrEqual(400);
    }
    const wrongToken = { ...store, outputDir: store.outputDir.replace(/[^/]+$/, 'forged-token') };
    expect(await agent.upload(wrongToken, 'result.txt', 'x')).toBe(403);
    expect(await agent.upload(store, 'result.txt', 'result\n')).toBeLessThan(300);

    await agent.jobDone(runJob);
    const finished = await waitForJob(manager.queue, submitted.id, 10_000);
    expect(finished?.state).toBe('done');
    expect(fs.readdirSync(manager.config.doneJobDir)).toEqual([submitted.id]);
    // Nothing the hostile traffic named exists in the state dir.
    const tree = listTree(manager.config.stateDir);
    expect(tree.some((entry) => /escape|hostile|never-submitted|big\.bin/.test(entry))).toBe(false);
    for (const marker of ESCAPE_MARKERS) expect(fs.existsSync(marker)).toBe(false);
  }, 60_000);

  describe('agent', () => {
    let volunteer: Agent;

    beforeAll(async () => {
      const dataDir = path.join(root, 'agent-work');
      fs.mkdirSync(dataDir, { recursive: true });
      volunteer = createAgent({
        settings: localAgentSettings(prosody, 'volunteer', 'volunteer-secret', {
          // A manager address nobody answers from: every job offer below is unsolicited.
          jobManagerAddress: `nobody@${prosody.domain}`,
        }),
        dataDir,
        xmppService: prosody.service,
        resource: 'volunteer-agent',
        fetchBackoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 },
      });
      await volunteer.start();
      // The oversize stanza above may have cost mallory its stream.
      await mallory.stop();
      mallory = await connectXmpp(prosody, USERS[2] ?? { username: '', password: '' });
      const deadline = Date.now() + 20_000;
      while (!volunteer.session?.isOnline) {
        if (Date.now() > deadline) throw new Error('agent did not come online');
        await sleep(100);
      }
    });

    afterAll(async () => {
      await volunteer?.stop();
    });

    it('a runJob for a job it never asked for, and forged job fields, are ignored', async () => {
      const target = `volunteer@${prosody.domain}/volunteer-agent`;
      const corpus = hostileStanzas(target, FORM).filter((stanza) => stanza.target === 'agent');
      expect(corpus.length).toBeGreaterThanOrEqual(3);
      const before = listTree(volunteer.dataDir);
      for (const stanza of corpus) await sendRaw(stanza.xml);
      await sleep(2_000);
      expect(volunteer.session?.isOnline).toBe(true);
      const after = listTree(volunteer.dataDir);
      const added = after.filter((entry) => !before.includes(entry));
      expect(added.filter((entry) => /job-nobody-gave-you|escape|hostile/.test(entry))).toEqual([]);
      for (const marker of ESCAPE_MARKERS) expect(fs.existsSync(marker)).toBe(false);
      const docker = await ensureDocker();
      const containers = await docker.listContainers({
        all: true,
        filters: { label: ['copilot.job=job-nobody-gave-you'] },
      });
      expect(containers).toEqual([]);
    }, 30_000);
  });
});
