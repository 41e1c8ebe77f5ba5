/**
 * What each XMPP server relays of the two forms of the message layer (issue #14), measured on
 * the real servers: Prosody relays both untouched; ejabberd 23.01 empties `<body>` of the report's
 * `<info>` and drops the ack/noack attributes, and relays the namespaced form intact, privately
 * and through a MUC room. Also: two sessions settle on the form the other one sends.
 */
import { xml, type Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COPILOT_NS,
  decodeStanza,
  encodeMessage,
  type Command,
  type CommandMessage,
} from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import {
  connectXmpp,
  startXmppServer,
  XMPP_SERVER_KINDS,
  type XmppServer,
  type XmppSession,
} from '@test/harness';

const USERS = ['alice', 'bob', 'carol', 'dave'].map((username) => ({
  username,
  password: `${username}-secret`,
}));

const runJob: Command = {
  command: 'runJob',
  jmJobData: 'lease=1',
  job: {
    id: 'job-1',
    chirpUrl: 'http://127.0.0.1:8088',
    inputDir: '/in/tok',
    outputDir: '/out/tok',
    inputFiles: 'calculator.sh',
    command: 'calculator.sh',
    arguments: '',
    environment: '',
    packages: '',
  },
};

function nextMessage(session: XmppSession, id: string, timeoutMs = 5_000): Promise<Element> {
  return new Promise((resolve, reject) => {
    const onStanza = (stanza: Element): void => {
      if (stanza.name !== 'message' || stanza.attrs.id !== id) return;
      clearTimeout(timer);
      session.client.removeListener('stanza', onStanza);
      resolve(stanza);
    };
    const timer = setTimeout(() => {
      session.client.removeListener('stanza', onStanza);
      reject(new Error(`message ${id} did not arrive`));
    }, timeoutMs);
    session.client.on('stanza', onStanza);
  });
}

describe.each(XMPP_SERVER_KINDS)('what %s relays of a Co-Pilot message', (kind) => {
  let server: XmppServer;
  let alice: XmppSession;
  let bob: XmppSession;
  let counter = 0;

  beforeAll(async () => {
    server = await startXmppServer(kind, { users: USERS });
    alice = await connectXmpp(server, USERS[0] ?? { username: '', password: '' });
    bob = await connectXmpp(server, USERS[1] ?? { username: '', password: '' });
    await alice.client.send(xml('presence', {}));
    await bob.client.send(xml('presence', {}));
  });

  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await server?.stop();
  });

  /** Sends `message` from alice to `to` in `form`; what bob got, decoded (or the error). */
  async function relay(
    form: 'report' | 'namespaced' | 'both',
    to: string,
    extra: Partial<CommandMessage> = {},
  ): Promise<{ stanza: Element; decoded: ReturnType<typeof decodeStanza> | Error }> {
    counter += 1;
    const id = `m-${counter}`;
    const message: CommandMessage = {
      kind: 'command',
      to,
      from: alice.jid,
      id,
      noack: false,
      command: runJob,
      ...extra,
    };
    const arrived = nextMessage(bob, id);
    await alice.client.send(encodeMessage(message, form));
    const stanza = await arrived;
    try {
      return { stanza, decoded: decodeStanza(stanza) };
    } catch (error) {
      return { stanza, decoded: error as Error };
    }
  }

  it('the namespaced form arrives intact, to the full and to the bare JID, noack included', async () => {
    for (const to of [bob.jid, server.jid('bob')]) {
      const { decoded } = await relay('namespaced', to, { noack: true });
      expect(decoded).toMatchObject({ kind: 'command', command: runJob, noack: true });
      expect(decoded).toMatchObject({ form: 'namespaced' });
    }
    const ack = nextMessage(bob, 'ack-1');
    await alice.client.send(
      xml('message', { to: bob.jid, id: 'ack-1' }, xml('ack', { xmlns: COPILOT_NS, id: 'm-1' })),
    );
    expect(decodeStanza(await ack)).toMatchObject({ kind: 'ack', ackedId: 'm-1' });
  });

  it("the report's form: intact on Prosody; ejabberd empties <body> and drops noack", async () => {
    const { stanza, decoded } = await relay('report', bob.jid, { noack: true });
    if (kind === 'prosody') {
      expect(decoded).toMatchObject({ kind: 'command', command: runJob, noack: true });
      return;
    }
    expect(decoded).toBeInstanceOf(Error);
    expect(stanza.getChild('body')?.children).toEqual([]);
    expect(stanza.attrs.noack).toBeUndefined();
    // an ack attribute goes too: the report's ack arrives as an empty message
    const ack = nextMessage(bob, 'ack-2');
    await alice.client.send(xml('message', { to: bob.jid, id: 'ack-2', ack: 'm-1' }, xml('body')));
    expect((await ack).attrs.ack).toBeUndefined();
  });

  it('both forms at once: read as the namespaced form wherever it went', async () => {
    const { stanza, decoded } = await relay('both', bob.jid);
    expect(decoded).toMatchObject({ kind: 'command', command: runJob, form: 'namespaced' });
    expect(stanza.getChild('body')?.getChild('info') !== undefined).toBe(kind === 'prosody');
  });

  it('through a MUC room, a private message (type chat) in the namespaced form arrives intact', async () => {
    const room = `relay-${kind}@${server.mucDomain}`;
    const joined = async (session: XmppSession, nick: string): Promise<void> => {
      const self = new Promise<void>((resolve) => {
        const onStanza = (stanza: Element): void => {
          if (stanza.name === 'presence' && stanza.attrs.from === `${room}/${nick}`) {
            session.client.removeListener('stanza', onStanza);
            resolve();
          }
        };
        session.client.on('stanza', onStanza);
      });
      await session.client.send(
        xml(
          'presence',
          { to: `${room}/${nick}` },
          xml('x', { xmlns: 'http://jabber.org/protocol/muc' }),
        ),
      );
      await self;
    };
    await joined(alice, 'alice');
    await joined(bob, 'bob');
    const { decoded } = await relay('namespaced', `${room}/bob`, { type: 'chat' });
    expect(decoded).toMatchObject({ kind: 'command', command: runJob, type: 'chat' });
    expect(decoded).toMatchObject({ from: `${room}/alice` });
  });

  it('a session answers each peer in the form the peer sent', async () => {
    const [carolUser] = USERS.slice(2);
    const carol = new CopilotSession({
      service: server.service,
      domain: server.domain,
      username: carolUser?.username ?? '',
      password: carolUser?.password ?? '',
      resource: 'r',
    });
    carol.onCommand(async (message) => {
      if (message.command.command === 'Heartbeat:ping') {
        await carol.send(message.from, { command: 'pong' }, { noack: true });
      }
    });
    try {
      await carol.start();
      const forms =
        kind === 'prosody' ? (['report', 'namespaced'] as const) : (['namespaced'] as const);
      for (const form of forms) {
        counter += 1;
        const id = `ping-${counter}`;
        const replies: Element[] = [];
        const collect = (stanza: Element): void => {
          if (stanza.name === 'message' && stanza.attrs.from === carol.jid) replies.push(stanza);
        };
        alice.client.on('stanza', collect);
        await alice.client.send(
          encodeMessage(
            {
              kind: 'command',
              to: carol.jid,
              from: alice.jid,
              id,
              noack: false,
              command: { command: 'Heartbeat:ping' },
            },
            form,
          ),
        );
        const deadline = Date.now() + 5_000;
        while (replies.length < 2 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        alice.client.removeListener('stanza', collect);
        const decoded = replies.map((stanza) => decodeStanza(stanza));
        expect(decoded).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ kind: 'ack', ackedId: id }),
            expect.objectContaining({ kind: 'command', command: { command: 'pong' }, noack: true }),
          ]),
        );
        // nothing of the other form: a report-only peer gets the report's form alone
        const namespaced = replies.some((stanza) =>
          stanza.children.some(
            (child) => typeof child !== 'string' && child.attrs.xmlns === COPILOT_NS,
          ),
        );
        const report = replies.some(
          (stanza) =>
            stanza.attrs.ack !== undefined ||
            stanza.getChild('body')?.getChild('info') !== undefined,
        );
        expect({ namespaced, report }).toEqual({
          namespaced: form === 'namespaced',
          report: form === 'report',
        });
      }
    } finally {
      await carol.stop();
    }
  });
});
