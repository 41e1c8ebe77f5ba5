import { mkdtemp, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applySettingsPatch, DEFAULT_SETTINGS, publicSettings } from '@copilot/contract/settings';
import type { AgentSettings, AgentStatus, LogEntry } from '@copilot/contract/ui-contract';
import type { AgentHost, AgentHostEvents } from '@copilot/core/agent-host';
import { startGuiRpcServer, type GuiRpcServer } from '@copilot/rpc/gui-rpc-server';
import { TypedEmitter } from '@copilot/base/typed-emitter';

const STORED_PASSWORD = 'stored-pw-9f3a';

function fakeStatus(paused: boolean): AgentStatus {
  return {
    activity: paused ? 'paused' : 'waiting-for-work',
    statusLine: paused ? 'Paused' : 'Waiting for work',
    connection: 'online',
    connectionMessage: '',
    jid: 'agent@localhost/a',
    jobManager: 'jm@localhost',
    docker: { available: true, message: 'Docker 28' },
    paused,
    pausedUntil: null,
    idle: { required: false, idleSeconds: 0, thresholdSeconds: 180, isIdle: true },
    slots: { total: 1, busy: 0 },
    cpuShare: 0.5,
    running: [],
  };
}

/** Like the real agent's settings commands: validated with the contract, secrets blanked. */
function fakeAgent(): AgentHost & {
  pausedFor: Array<number | undefined>;
  jobCalls: Array<[string, string]>;
  settings: () => AgentSettings;
} {
  let settings: AgentSettings = { ...DEFAULT_SETTINGS, xmppPassword: STORED_PASSWORD };
  let paused = false;
  const pausedFor: Array<number | undefined> = [];
  const jobCalls: Array<[string, string]> = [];
  const events = new TypedEmitter<AgentHostEvents>();
  return {
    pausedFor,
    jobCalls,
    settings: () => settings,
    events,
    start: async () => undefined,
    stop: async () => undefined,
    reportIdleSeconds: () => undefined,
    commands: {
      getStatus: async () => fakeStatus(paused),
      getJobs: async () => ({
        running: [],
        history: [],
        totals: { jobs: 0, succeeded: 0, failed: 0, cpuHours: 0, perDay: [] },
      }),
      getSettings: async () => publicSettings(settings),
      setSettings: async (patch) => {
        const result = applySettingsPatch(settings, patch);
        if (result.errors.length > 0) return { ok: false, errors: result.errors };
        settings = result.settings;
        return { ok: true, settings: publicSettings(settings) };
      },
      pause: async (minutes) => {
        paused = true;
        pausedFor.push(minutes);
        events.emit('status', fakeStatus(true));
        return fakeStatus(true);
      },
      resume: async () => {
        paused = false;
        return fakeStatus(false);
      },
      finishThenPause: async () => fakeStatus(paused),
      suspendJob: async (jobId) => {
        jobCalls.push(['suspendJob', jobId]);
        return fakeStatus(paused);
      },
      resumeJob: async (jobId) => {
        jobCalls.push(['resumeJob', jobId]);
        return fakeStatus(paused);
      },
      abortJob: async (jobId) => {
        jobCalls.push(['abortJob', jobId]);
        return fakeStatus(paused);
      },
      getLog: async () => [],
      previewAttachLink: async () => {
        throw new Error('not an attach link');
      },
      attachProject: async () => ({ ok: false, error: 'not in this fake' }),
      checkContainerEngine: async () => fakeStatus(paused),
      detachProject: async () => fakeStatus(paused),
      setProjectPaused: async () => fakeStatus(paused),
      setProjectShare: async () => fakeStatus(paused),
    },
  };
}

interface Reply {
  status: number;
  body: string;
}

function call(
  server: GuiRpcServer,
  path: string,
  init: { method?: string; token?: string; body?: string; host?: string },
): Promise<Reply> {
  const base = new URL(server.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (init.token !== undefined) headers['x-copilot-token'] = init.token;
    if (init.host !== undefined) headers.host = init.host;
    // A raw path, so that `..` reaches the server un-normalised.
    const options = {
      hostname: base.hostname,
      port: base.port,
      path,
      method: init.method ?? 'POST',
      headers,
    };
    const req = httpRequest(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('GUI RPC server', () => {
  let dir: string;
  let agent: ReturnType<typeof fakeAgent>;
  let server: GuiRpcServer;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rpc-'));
    agent = fakeAgent();
    await mkdir(join(dir, 'static'));
    await writeFile(join(dir, 'static', 'index.html'), '<html>ui</html>');
    await writeFile(join(dir, 'secret.txt'), 'do not serve');
    server = await startGuiRpcServer(agent, {
      port: 0,
      tokenFile: join(dir, 'gui_rpc_auth.cfg'),
      staticDir: join(dir, 'static'),
    });
  });

  afterEach(async () => {
    await server.close();
  });

  it('keeps the token in a 0600 file and reuses it', async () => {
    const info = await stat(join(dir, 'gui_rpc_auth.cfg'));
    expect(info.mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, 'gui_rpc_auth.cfg'), 'utf8')).trim()).toBe(server.token);
    const second = await startGuiRpcServer(agent, {
      port: 0,
      tokenFile: join(dir, 'gui_rpc_auth.cfg'),
    });
    expect(second.token).toBe(server.token);
    await second.close();
  });

  it('a port in use is an error and leaves no listener on the agent', async () => {
    const other = fakeAgent();
    const port = Number(new URL(server.url).port);
    await expect(
      startGuiRpcServer(other, { port, tokenFile: join(dir, 'other-token') }),
    ).rejects.toThrow(/EADDRINUSE/);
    for (const event of ['status', 'job', 'log'] as const) {
      expect(other.events.listenerCount(event)).toBe(0);
    }
  });

  it('refuses calls without the right token', async () => {
    expect((await call(server, '/api/getStatus', {})).status).toBe(401);
    expect((await call(server, '/api/getStatus', { token: 'x'.repeat(43) })).status).toBe(401);
  });

  it('serves commands with the contract types', async () => {
    const reply = await call(server, '/api/getStatus', { token: server.token, body: '[]' });
    expect(reply.status).toBe(200);
    expect((JSON.parse(reply.body) as AgentStatus).statusLine).toBe('Waiting for work');
    const paused = await call(server, '/api/pause', { token: server.token, body: '[60]' });
    expect((JSON.parse(paused.body) as AgentStatus).paused).toBe(true);
    expect(agent.pausedFor).toEqual([60]);
  });

  it('serves the per-job commands with a job id, and refuses them without one', async () => {
    for (const command of ['suspendJob', 'resumeJob', 'abortJob']) {
      const reply = await call(server, `/api/${command}`, { token: server.token, body: '["j-1"]' });
      expect(reply.status).toBe(200);
      const bad = await call(server, `/api/${command}`, { token: server.token, body: '[]' });
      expect(bad.status).toBe(400);
    }
    expect(agent.jobCalls).toEqual([
      ['suspendJob', 'j-1'],
      ['resumeJob', 'j-1'],
      ['abortJob', 'j-1'],
    ]);
    const finishing = await call(server, '/api/finishThenPause', {
      token: server.token,
      body: '[]',
    });
    expect(finishing.status).toBe(200);
  });

  it('rejects bad arguments and bad settings with clear messages', async () => {
    const notJson = await call(server, '/api/pause', { token: server.token, body: '{' });
    expect(notJson).toMatchObject({ status: 400 });
    expect(notJson.body).toContain('not JSON');
    const badArgs = await call(server, '/api/pause', { token: server.token, body: '["soon"]' });
    expect(badArgs.status).toBe(400);
    const badSetting = await call(server, '/api/setSettings', {
      token: server.token,
      body: JSON.stringify([{ cpuLimitPercent: 500 }]),
    });
    expect(badSetting.status).toBe(200);
    expect(JSON.parse(badSetting.body)).toEqual({
      ok: false,
      errors: [{ field: 'cpuLimitPercent', message: 'CPU limit must be between 1 and 100' }],
    });
    expect((await call(server, '/api/rmrf', { token: server.token })).status).toBe(404);
  });

  it('never sends the password back: getSettings and setSettings blank it; a new one is taken', async () => {
    const read = await call(server, '/api/getSettings', { token: server.token, body: '[]' });
    expect(read.status).toBe(200);
    expect(read.body).not.toContain(STORED_PASSWORD);
    expect(JSON.parse(read.body)).toMatchObject({ xmppPassword: '', xmppPasswordSet: true });
    const kept = await call(server, '/api/setSettings', {
      token: server.token,
      body: JSON.stringify([{ xmppPassword: '', jobSlots: 2 }]),
    });
    expect(JSON.parse(kept.body)).toMatchObject({ ok: true, settings: { xmppPasswordSet: true } });
    expect(agent.settings().xmppPassword).toBe(STORED_PASSWORD);
    const changed = await call(server, '/api/setSettings', {
      token: server.token,
      body: JSON.stringify([{ xmppPassword: 'typed-new-pw' }]),
    });
    expect(changed.status).toBe(200);
    expect(changed.body).not.toContain('typed-new-pw');
    expect(agent.settings().xmppPassword).toBe('typed-new-pw');
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const reply = await call(server, '/api/getStatus', {
      token: server.token,
      host: 'evil.example:80',
    });
    expect(reply.status).toBe(403);
  });

  it('serves the UI and never a file outside its folder', async () => {
    const page = await call(server, '/', { method: 'GET' });
    expect(page).toEqual({ status: 200, body: '<html>ui</html>' });
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt']) {
      const escape = await call(server, path, { method: 'GET' });
      expect(escape.body).not.toContain('do not serve');
    }
  });

  it('drops an event stream whose client stops reading, instead of buffering without end', async () => {
    const url = new URL(`/api/events?token=${server.token}`, server.url);
    const closed = new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, (res) => {
        res.once('data', () => {
          res.pause();
          const message = 'x'.repeat(64 * 1024);
          let batches = 0;
          const flood = (): void => {
            batches += 1;
            for (let index = 0; index < 16; index += 1) {
              agent.events.emit('log', { time: 't', level: 'info', component: 'c', message });
            }
            // 64 MiB offered in all; then read again and see whether the server hung up.
            if (batches < 64) setImmediate(flood);
            else res.resume();
          };
          flood();
        });
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
      req.on('error', (error) =>
        (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(error),
      );
      req.end();
    });
    await closed;
  });

  it('streams events over SSE with the token in the query', async () => {
    const url = new URL(`/api/events?token=${server.token}`, server.url);
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          frames.push(chunk);
          if (chunk.startsWith(': connected')) {
            agent.events.emit('log', {
              time: 't',
              level: 'info',
              component: 'c',
              message: 'hello',
            } satisfies LogEntry);
          }
          if (chunk.includes('hello')) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (error) =>
        (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(error),
      );
      req.end();
    });
    const frame = frames.find((text) => text.includes('hello')) ?? '';
    expect(JSON.parse(frame.replace(/^data: /, ''))).toEqual({
      event: 'log',
      payload: { time: 't', level: 'info', component: 'c', message: 'hello' },
    });
  });
});
