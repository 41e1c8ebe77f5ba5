/**
 * copilot-jobmanager-generic as a real process with a config file: a full cycle, a SIGKILL in
 * the middle of one (the job survives and the resent getJob gets it again), and a clean SIGTERM.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  startProcess,
  startTestXmppServer,
  type XmppServer,
  type ServiceProcess,
} from '@test/harness';
import { JobStorePaths } from '@manager/job-manager/job-store-paths';
import { submitJob } from '@manager/job-manager/job-submission';
import { SqliteJobQueue } from '@manager/job-manager/sqlite-job-queue';
import {
  eventually,
  extractDoneArchive,
  PASSWORD,
  REPO_CALCULATOR,
  tempDir,
} from './manager-fixture';
import { TestAgent } from './test-agent';

let prosody: XmppServer;

beforeAll(async () => {
  prosody = await startTestXmppServer({
    users: ['jm', 'agent1'].map((username) => ({ username, password: PASSWORD })),
  });
});

afterAll(async () => {
  await prosody?.stop();
});

function writeConfig(stateDir: string): string {
  const file = path.join(stateDir, 'copilot-jobmanager-generic.conf');
  fs.writeFileSync(
    file,
    [
      '# written by manager-process.test.ts',
      `JM_JABBER_SERVER 127.0.0.1:${prosody.port}`,
      `JM_JABBER_DOMAIN ${prosody.domain}`,
      'JM_JABBER_ID jm',
      `JM_JABBER_PASSWORD ${PASSWORD}`,
      'JM_JABBER_RESOURCE jm1',
      `JM_STATE_DIR ${stateDir}`,
      'JM_STORAGE_BIND 127.0.0.1',
      '',
    ].join('\n'),
  );
  return file;
}

function startManagerProcess(configFile: string): Promise<ServiceProcess> {
  // node --import tsx: one process, so SIGKILL really kills the manager.
  return startProcess({
    name: 'copilot-jobmanager-generic',
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'manager/bin/copilot-jobmanager-generic.ts'),
      '--config',
      configFile,
      '--JM_STORAGE_PORT=0',
    ],
    cwd: REPO_ROOT,
    readyTimeoutMs: 30_000,
    ready: async (proc, signal) => {
      while (!proc.logTail(50).includes('job manager started')) {
        if (signal.aborted) throw new Error('aborted');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  });
}

describe('copilot-jobmanager-generic process', () => {
  it('survives SIGKILL mid-cycle without losing the job and stops cleanly on SIGTERM', async () => {
    const stateDir = tempDir('jm-process-');
    const configFile = writeConfig(stateDir);
    const queue = new SqliteJobQueue(path.join(stateDir, 'queue.sqlite'));
    const agent = new TestAgent({
      service: prosody.service,
      domain: prosody.domain,
      username: 'agent1',
      password: PASSWORD,
    });
    let manager = await startManagerProcess(configFile);
    try {
      const job = await submitJob(queue, new JobStorePaths(path.join(stateDir, 'storage')), {
        commandFile: REPO_CALCULATOR,
      });
      await agent.start();
      const jm = prosody.jid('jm') + '/jm1';
      await agent.send(jm, { command: 'want_getJob', agentHost: 'a', jdl: agent.jdl });
      await agent.waitFor('have_getJob');
      await agent.send(
        jm,
        { command: 'getJob', agentHost: 'a', jdl: agent.jdl },
        'getjob-before-crash',
      );
      const runJob = await agent.waitFor('runJob');
      expect(runJob.command.job.id).toBe(job.id);
      const result = await agent.runJob(runJob.command);
      expect((await queue.get(job.id))?.state).toBe('running');

      const killed = await manager.kill9();
      expect(killed.signal).toBe('SIGKILL');
      manager = await startManagerProcess(configFile);

      await agent.send(
        jm,
        { command: 'getJob', agentHost: 'a', jdl: agent.jdl },
        'getjob-before-crash',
      );
      const again = await agent.waitFor('runJob');
      expect(again.command.job.id).toBe(job.id);
      expect(again.command.jmJobData).toBe(runJob.command.jmJobData);
      await agent.uploadOutputs(jm, again.command, {
        stdout: result.stdout,
        stderr: result.stderr,
      });
      await agent.jobDone(jm, again.command, result.exitCode);
      await eventually(
        async () => ((await queue.get(job.id))?.state === 'done' ? true : undefined),
        'job done',
      );
      const done = path.join(stateDir, 'done');
      await extractDoneArchive(done, job.id);
      expect(fs.readFileSync(path.join(done, job.id, job.id, 'stdout'), 'utf8')).toBe('4\n');

      const exit = await manager.stop();
      expect(exit).toEqual({ code: 0, signal: null });
      expect(manager.logTail(20)).toContain('stopping');
    } finally {
      await manager.stop();
      await agent.stop();
      await queue.close();
    }
  });

  it('refuses to start with a clear error naming a missing variable', async () => {
    const stateDir = tempDir('jm-process-bad-');
    const file = path.join(stateDir, 'bad.conf');
    fs.writeFileSync(
      file,
      `JM_JABBER_SERVER 127.0.0.1:${prosody.port}\nJM_JABBER_DOMAIN ${prosody.domain}\n`,
    );
    const proc = await startProcess({
      name: 'copilot-jobmanager-generic-bad',
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'manager/bin/copilot-jobmanager-generic.ts'),
        '--config',
        file,
      ],
      cwd: REPO_ROOT,
    });
    const exit = await proc.exited;
    expect(exit.code).toBe(1);
    expect(proc.logTail(5)).toContain('copilot-jobmanager-generic: JM_JABBER_ID must be set');
  });
});
