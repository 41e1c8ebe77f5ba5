import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { Redis } from 'ioredis';
import type Docker from 'dockerode';
import {
  JOB_IMAGE,
  ProcessStartError,
  connectXmpp,
  ensureDocker,
  freePort,
  runContainer,
  startProcess,
  startRedis,
  startXmppServer,
  waitForPort,
  XMPP_SERVER_KINDS,
} from '@test/harness';
import type { RedisServer, XmppServer, XmppSession } from '@test/harness';

function waitForStanza(
  client: Client,
  predicate: (stanza: Element) => boolean,
  timeoutMs = 10_000,
): Promise<Element> {
  return new Promise((resolve, reject) => {
    const onStanza = (stanza: Element): void => {
      if (!predicate(stanza)) return;
      clearTimeout(timer);
      client.removeListener('stanza', onStanza);
      resolve(stanza);
    };
    const timer = setTimeout(() => {
      client.removeListener('stanza', onStanza);
      reject(new Error(`no matching stanza within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on('stanza', onStanza);
  });
}

/** Raw STARTTLS negotiation that verifies the server certificate against `ca`. */
async function starttlsWithCa(
  port: number,
  domain: string,
  ca: Buffer,
): Promise<{ features: string; socket: tls.TLSSocket }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  let buffer = '';
  const readUntil = (marker: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!buffer.includes(marker)) return false;
        const out = buffer;
        buffer = '';
        socket.removeListener('data', onData);
        socket.removeListener('error', reject);
        resolve(out);
        return true;
      };
      const onData = (chunk: Buffer): void => {
        buffer += chunk.toString('utf8');
        check();
      };
      if (check()) return;
      socket.on('data', onData);
      socket.once('error', reject);
    });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
  );
  const features = await readUntil('</stream:features>');
  if (!features.includes('<starttls')) return { features, socket: new tls.TLSSocket(socket) };
  socket.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await readUntil('<proceed');
  socket.pause();
  const secure = tls.connect({ socket, ca, servername: domain, rejectUnauthorized: true });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  return { features, socket: secure };
}

describe('harness: processes and ports', () => {
  it('freePort gives distinct bindable ports and waitForPort times out clearly', async () => {
    const a = await freePort();
    const b = await freePort();
    expect(a).not.toBe(b);
    await expect(waitForPort(a, '127.0.0.1', 200)).rejects.toThrow(/nothing listens/);
  });

  it('an exit before readiness rejects with the log tail', async () => {
    const port = await freePort();
    const start = startProcess({
      name: 'early-exit',
      command: process.execPath,
      args: ['-e', "console.error('boom-marker-42'); process.exit(3)"],
      ready: (_p, signal) => waitForPort(port, '127.0.0.1', 10_000, { signal }),
    });
    await expect(start).rejects.toThrow(ProcessStartError);
    await expect(start).rejects.toThrow(/exit code 3[\s\S]*boom-marker-42/);
  });

  it('stop() escalates to SIGKILL when SIGTERM is ignored, kill9() kills at once', async () => {
    const stubborn = await startProcess({
      name: 'stubborn',
      command: process.execPath,
      args: ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"],
      ready: () => new Promise((r) => setTimeout(r, 200)),
    });
    const t0 = Date.now();
    const info = await stubborn.stop(300);
    expect(info.signal).toBe('SIGKILL');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const other = await startProcess({
      name: 'sleeper',
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
    });
    expect((await other.kill9()).signal).toBe('SIGKILL');
    expect(fs.existsSync(other.logPath)).toBe(true);
  });
});

describe.each(XMPP_SERVER_KINDS)('harness: %s (no TLS)', (kind) => {
  let server: XmppServer;
  const alice = { username: 'alice', password: 'alice-secret' };
  const bob = { username: 'bob', password: 'bob-secret' };
  const sessions: XmppSession[] = [];
  const connect = async (user: { username: string; password: string }): Promise<XmppSession> => {
    const session = await connectXmpp(server, user);
    sessions.push(session);
    return session;
  };

  beforeAll(async () => {
    server = await startXmppServer(kind, { users: [alice, bob] });
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.stop()));
    await server?.stop();
  });

  it('logs in with SCRAM-SHA-1, no STARTTLS; the config is sized for tests', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.mucDomain).toBe('conference.localhost');
    const session = await connect(alice);
    expect(session.jid).toMatch(/^alice@localhost\//);
    expect(session.mechanism).toBe('SCRAM-SHA-1');
    expect(session.offeredMechanisms).toContain('SCRAM-SHA-1');
    expect(session.starttlsOffered).toBe(false);
    const config = fs.readFileSync(server.configPath, 'utf8');
    if (kind === 'prosody') {
      expect(session.offeredMechanisms).not.toContain('PLAIN'); // not without TLS
      expect(config).toMatch(/"limits"/); // listed in modules_disabled
      expect(config).not.toMatch(/modules_enabled = \{[^}]*"limits"/);
    } else {
      // Debian's shaper and room size would throttle and cap tests; stream management stays on.
      expect(config).toMatch(/c2s_shaper: none/);
      expect(config).toMatch(/max_users: 100000/);
      expect(config).toMatch(/mod_stream_mgmt:/);
      expect(config).not.toMatch(/mod_fail2ban|mod_offline/);
    }
  });

  it('two users exchange a <message>', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const received = waitForStanza(
      b.client,
      (s) => s.is('message') && s.getChildText('body') === 'hello bob',
    );
    await a.client.send(xml('message', { to: b.jid, type: 'chat' }, xml('body', {}, 'hello bob')));
    const message = await received;
    expect(message.attrs.from).toBe(a.jid);
  });

  it('two users join a MUC room and both see a groupchat message', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const room = `room-${Date.now()}@${server.mucDomain}`;
    const join = async (s: XmppSession, nick: string): Promise<void> => {
      const joined = waitForStanza(
        s.client,
        (st) =>
          st.is('presence') &&
          st.attrs.from === `${room}/${nick}` &&
          (st
            .getChild('x', 'http://jabber.org/protocol/muc#user')
            ?.getChildren('status')
            .some((c) => c.attrs.code === '110') ??
            false),
      );
      await s.client.send(
        xml(
          'presence',
          { to: `${room}/${nick}` },
          xml('x', { xmlns: 'http://jabber.org/protocol/muc' }),
        ),
      );
      const presence = await joined;
      expect(presence.attrs.type).toBeUndefined();
    };
    await join(a, 'alice');
    await join(b, 'bob');
    const isHello = (st: Element): boolean =>
      st.is('message') &&
      st.attrs.type === 'groupchat' &&
      st.getChildText('body') === 'hello room' &&
      st.attrs.from === `${room}/bob`;
    const seenByA = waitForStanza(a.client, isHello);
    const seenByB = waitForStanza(b.client, isHello);
    await b.client.send(
      xml('message', { to: room, type: 'groupchat' }, xml('body', {}, 'hello room')),
    );
    await Promise.all([seenByA, seenByB]);
  });

  it('a bad password fails with a clear SASL not-authorized error', async () => {
    const attempt = connectXmpp(server, { username: 'alice', password: 'wrong' });
    await expect(attempt).rejects.toMatchObject({ name: 'SASLError', condition: 'not-authorized' });
  });

  it('registerUser works while running; accounts survive restart() and kill9()', async () => {
    const carol = { username: 'carol', password: 'carol-secret' };
    await server.registerUser(carol.username, carol.password);
    await (await connect(carol)).stop();

    const portBefore = server.port;
    const pidBefore = server.process.pid;
    await server.restart();
    expect(server.port).toBe(portBefore);
    expect(server.process.pid).not.toBe(pidBefore);
    await (await connect(carol)).stop();

    await server.kill9();
    expect(server.process.isRunning()).toBe(false);
    await expect(connectXmpp(server, carol, { timeoutMs: 2_000 })).rejects.toThrow();
    await server.restart();
    await (await connect(carol)).stop();

    await server.unregisterUser(carol.username);
    await expect(connectXmpp(server, carol)).rejects.toMatchObject({ name: 'SASLError' });
  });
});

describe.each(XMPP_SERVER_KINDS)('harness: %s with TLS', (kind) => {
  let server: XmppServer;
  const dave = { username: 'dave', password: 'dave-secret' };
  beforeAll(async () => {
    server = await startXmppServer(kind, { tls: true, users: [dave] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('offers STARTTLS and the generated certificate verifies against caCertPath', async () => {
    expect(server.caCertPath).toBeDefined();
    const ca = fs.readFileSync(server.caCertPath ?? '');
    const { features, socket } = await starttlsWithCa(server.port, server.domain, ca);
    try {
      expect(features).toContain("xmlns='urn:ietf:params:xml:ns:xmpp-tls'");
      expect(features).toContain('<required/>');
      expect(socket.authorized).toBe(true);
      expect(socket.getPeerCertificate().fingerprint256).toBe(server.certFingerprint256);
    } finally {
      socket.destroy();
    }
  });

  it('@xmpp/client logs in over STARTTLS with SCRAM-SHA-1', async () => {
    const envBefore = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    const session = await connectXmpp(server, dave);
    try {
      expect(session.starttlsOffered).toBe(true);
      expect(session.peerFingerprint256).toBe(server.certFingerprint256);
      expect(session.mechanism).toBe('SCRAM-SHA-1');
      // the unverified-TLS scope is over
      expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBe(envBefore);
    } finally {
      await session.stop();
    }
  });
});

describe('harness: redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('answers ping, set and get', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      await client.set('copilot:test', 'value-1');
      expect(await client.get('copilot:test')).toBe('value-1');
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
    } finally {
      client.disconnect();
    }
  });

  it('a persistent redis keeps its data across kill9() and restart()', async () => {
    const persistent = await startRedis({ persistent: true });
    try {
      const client = new Redis(persistent.url, { maxRetriesPerRequest: 1 });
      await client.set('k', 'survives');
      client.disconnect();
      await persistent.kill9();
      await persistent.restart();
      const again = new Redis(persistent.url, { maxRetriesPerRequest: 1 });
      expect(await again.get('k')).toBe('survives');
      again.disconnect();
    } finally {
      await persistent.stop();
    }
  });
});

describe('harness: docker and the job image', () => {
  let docker: Docker;
  beforeAll(async () => {
    docker = await ensureDocker();
  });

  it('runs the report job script (bash + bc) as uid 1000', async () => {
    const result = await runContainer(docker, {
      cmd: ['/bin/bash', '-c', 'echo "2+2" | bc; id -u; id -g; pwd; grep ^NAME= /etc/os-release'],
    });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      '4',
      '1000',
      '1000',
      '/work',
      'NAME="CernVM-like Co-Pilot job image"',
      '',
    ]);
  });

  it('a job script file with #!/bin/bash runs from /tmp', async () => {
    const result = await runContainer(docker, {
      cmd: [
        '/bin/sh',
        '-c',
        'printf \'#!/bin/bash\\necho "2+2" | bc\\n\' > /tmp/job.sh && chmod +x /tmp/job.sh && /tmp/job.sh',
      ],
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: '4\n' });
  });

  it('NanoCpus and Memory limits are visible in the container cgroup', async () => {
    const script = [
      'if [ -f /sys/fs/cgroup/cpu.max ]; then',
      '  echo v2; cat /sys/fs/cgroup/cpu.max; cat /sys/fs/cgroup/memory.max',
      'else',
      '  echo v1',
      '  echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"',
      '  cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
      'fi',
    ].join('\n');
    const result = await runContainer(docker, {
      image: JOB_IMAGE,
      cmd: ['/bin/sh', '-c', script],
      hostConfig: { NanoCpus: 500_000_000, Memory: 64 * 1024 * 1024 },
    });
    expect(result.exitCode).toBe(0);
    const [version, cpu, memory] = result.stdout.trim().split('\n');
    expect(['v1', 'v2']).toContain(version);
    const [quota, period] = (cpu ?? '').split(' ').map(Number);
    expect(quota).toBeGreaterThan(0);
    expect((quota ?? 0) / (period ?? 1)).toBeCloseTo(0.5, 5);
    expect(Number(memory)).toBe(64 * 1024 * 1024);
  });
});
