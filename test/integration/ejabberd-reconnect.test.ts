/**
 * A session whose ejabberd goes away with stanzas unacked (XEP-0198 on) comes back online on
 * the next server and stays there. Before forgetStream, xmpp.js kept the dropped stream's unacked
 * stanzas and its count of received ones: every reconnect failed its own check ("queue should
 * be empty after enable") and ejabberd closed the stream ("Client acknowledged more stanzas than
 * sent by server"), in a loop (found when a cluster node under a busy manager was killed).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { CopilotSession } from '@copilot/transport';
import { startEjabberd, until, type EjabberdServer } from '@test/harness';

const USERS = [
  { username: 'sender', password: 'pw-sender' },
  { username: 'sink', password: 'pw-sink' },
];

describe('reconnect after ejabberd dies with stanzas unacked', () => {
  let server: EjabberdServer;
  let session: CopilotSession | undefined;

  beforeAll(async () => {
    server = await startEjabberd({ users: USERS });
  });

  afterAll(async () => {
    await session?.stop();
    await server?.stop();
  });

  it('the session is online again, and stays online', async () => {
    const errors: string[] = [];
    let onlineCount = 0;
    const created = new CopilotSession({
      service: server.service,
      domain: server.domain,
      username: 'sender',
      password: 'pw-sender',
      resource: 'r',
      ackTimeoutMs: 500,
      reconnect: { initialMs: 300, maxMs: 1_000, jitter: 0.2 },
    });
    session = created;
    created.events.on('error', (error) => errors.push(error.message));
    created.events.on('online', () => {
      onlineCount += 1;
    });
    await created.start();
    // Past the harness's wait for Mnesia's log (kill9 right after registering would wait, and
    // xmpp.js would have the burst below acked meanwhile).
    await sleep(2_600);
    // A burst xmpp.js has not asked the server to ack yet (it asks 250 ms after the last one).
    for (let index = 0; index < 50; index += 1) {
      created.sendStanza(
        xml('message', { to: server.jid('sink'), type: 'chat' }, xml('body', {}, 'x')),
      );
    }
    await server.kill9();
    await server.restart();
    await until('the session online again', () => onlineCount >= 2 && created.isOnline, 30_000);
    const before = onlineCount;
    await sleep(4_000);
    expect(created.isOnline).toBe(true);
    expect(onlineCount).toBe(before);
    expect(
      errors.filter((text) => /acknowledged more stanzas|assertion failure/.test(text)),
    ).toEqual([]);
  }, 90_000);
});
