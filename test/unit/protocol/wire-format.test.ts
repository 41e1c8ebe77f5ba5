// The two forms of the message layer (the report's 2.1, and namespaced for servers that empty
// <body>, such as ejabberd) and which one goes to whom.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseXml } from 'ltx';
import type { Element } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import {
  COPILOT_NS,
  decodeStanza,
  decodeStanzaXml,
  encodeMessage,
  isNoack,
  ConfigError,
  ConfigValues,
  PeerWireForms,
  ProtocolError,
  receivedForm,
  wireFormatFromConfig,
  type Command,
  type CommandMessage,
  type ProtocolMessage,
} from '@copilot/protocol';
import { xmlNodeToHash } from '@test/fixtures/original/perl-wire';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

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
    arguments: 'a c',
    environment: 'A=1',
    packages: '',
  },
};

function command(cmd: Command, extra: Partial<CommandMessage> = {}): CommandMessage {
  return {
    kind: 'command',
    to: 'agent@localhost/a',
    from: 'jm@localhost/m',
    id: 'id-1',
    noack: false,
    command: cmd,
    ...extra,
  };
}

function parse(text: string): Element {
  const element = parseXml(text);
  if (!element) throw new Error('unparseable');
  return element;
}

/** What ejabberd 23.01 relays of a stanza (measured): <body> text only, no ack/noack, xml:lang. */
function asEjabberdRelays(stanza: Element): Element {
  const text = stanza
    .toString()
    .replace(/ (ack|noack)="[^"]*"/g, '')
    .replace(/<body>[\s\S]*?<\/body>/, '<body/>')
    .replace('<message ', '<message xml:lang="en" ');
  const relayed = parse(text);
  // ejabberd puts the elements it does not know before <body>.
  const body = relayed.getChild('body');
  if (body) {
    relayed.children = relayed.children.filter((child) => child !== body);
    relayed.children.push(body);
  }
  return relayed;
}

describe('the namespaced form', () => {
  it('puts <info> beside the body in our namespace, noack as an element; round-trips', () => {
    const message = command(runJob, { noack: true });
    const stanza = encodeMessage(message, 'namespaced');
    expect(stanza.getChild('body')).toBeUndefined();
    expect(stanza.attrs.noack).toBeUndefined();
    expect(stanza.getChild('noack', COPILOT_NS)).toBeDefined();
    const info = stanza.getChild('info', COPILOT_NS);
    expect(info?.attrs.command).toBe(`_BASE64:${Buffer.from('runJob').toString('base64')}`);
    expect(info?.getChild('job')).toBeDefined();
    expect(decodeStanzaXml(stanza.toString())).toEqual({ ...message, form: 'namespaced' });
  });

  it('an ack is <ack xmlns id/>, and decodes as an ack', () => {
    const ack: ProtocolMessage = { kind: 'ack', to: 'a@x/r', from: 'b@x/s', ackedId: 'id-9' };
    const stanza = encodeMessage(ack, 'namespaced');
    expect(stanza.toString()).toBe(
      `<message to="a@x/r" from="b@x/s"><ack xmlns="${COPILOT_NS}" id="id-9"/></message>`,
    );
    expect(decodeStanza(stanza)).toEqual({ ...ack, form: 'namespaced' });
  });

  it('survives what ejabberd does to a message; the report form does not', () => {
    for (const message of [command(runJob), command({ command: 'pong' }, { noack: true })]) {
      const relayed = asEjabberdRelays(encodeMessage(message, 'namespaced'));
      expect(decodeStanza(relayed)).toEqual({ ...message, form: 'namespaced' });
      const both = asEjabberdRelays(encodeMessage(message, 'both'));
      expect(decodeStanza(both)).toEqual({ ...message, form: 'namespaced' });
      const report = asEjabberdRelays(encodeMessage(message));
      expect(() => decodeStanza(report)).toThrow(ProtocolError);
    }
    const ack: ProtocolMessage = { kind: 'ack', to: 'a@x/r', from: 'b@x/s', ackedId: 'id-9' };
    expect(decodeStanza(asEjabberdRelays(encodeMessage(ack, 'namespaced')))).toMatchObject({
      kind: 'ack',
      ackedId: 'id-9',
    });
  });

  it('carries nested <info>s (redirect, secure envelope): they inherit our namespace', () => {
    const envelope: Command = {
      command: 'secure',
      sessionKey: 'a2V5',
      keyId: 'k1',
      nonce: 'bm9uY2U=',
      ciphertext: 'Y2lwaGVy',
    };
    const redirect: Command = {
      command: 'redirect',
      referral: 'storage@localhost',
      info: { command: 'getJobOutputDir', agentHost: 'h', jobID: 'j' },
    };
    for (const cmd of [redirect, envelope]) {
      const plain = decodeStanza(encodeMessage(command(cmd)));
      const namespaced = decodeStanza(parse(encodeMessage(command(cmd), 'namespaced').toString()));
      expect(namespaced).toEqual({ ...plain, form: 'namespaced' });
      expect(namespaced.kind === 'command' && namespaced.command).toEqual(cmd);
    }
  });
});

describe('both forms at once', () => {
  it('is the report form plus the namespaced <info>; the namespaced one is read', () => {
    const message = command(runJob, { noack: true });
    const stanza = encodeMessage(message, 'both');
    expect(stanza.attrs.noack).toBe('1');
    expect(stanza.getChild('body')?.getChild('info')).toBeDefined();
    expect(stanza.getChild('info', COPILOT_NS)).toBeDefined();
    expect(decodeStanza(parse(stanza.toString()))).toEqual({ ...message, form: 'namespaced' });
  });

  it('reads in the original Perl components (XMLNodeToHash) as the report form does', () => {
    const message = command(runJob);
    const perlBoth = xmlNodeToHash(parse(encodeMessage(message, 'both').toString()));
    const perlReport = xmlNodeToHash(parse(encodeMessage(message).toString()));
    // Container::XMPP reads $input->{body}->{info}, and takes $input->{ack} for an ack.
    expect(perlBoth.body).toEqual(perlReport.body);
    expect(perlBoth.ack).toBeUndefined();
  });
});

describe('the report form stays as it was', () => {
  it('encodes by default exactly as before and decodes the original stanzas unmarked', () => {
    const runJobText = fs.readFileSync(
      path.join(REPO_ROOT, 'test/fixtures/original/stanzas/runJob.xml'),
      'utf8',
    );
    const decoded = decodeStanzaXml(runJobText);
    expect(decoded).not.toHaveProperty('form');
    expect(decoded.kind).toBe('command');
    const ack = encodeMessage({ kind: 'ack', to: 'a@x', from: 'b@x/r', ackedId: 'id-1' });
    expect(ack.toString()).toBe('<message to="a@x" from="b@x/r" ack="id-1"><body/></message>');
  });

  it('an emptied body is a ProtocolError no-info, no body at all no-body', () => {
    const code = (text: string): string | undefined => {
      try {
        decodeStanzaXml(text);
      } catch (error) {
        return (error as ProtocolError).code;
      }
      return undefined;
    };
    expect(code(`<message to='a@x' id='1'><body/></message>`)).toBe('no-info');
    expect(code(`<message to='a@x' id='1'/>`)).toBe('no-body');
    // an <info> beside the body but not in our namespace is not ours
    expect(code(`<message to='a@x' id='1'><info command='cG9uZw=='/></message>`)).toBe('no-body');
  });

  it('isNoack and receivedForm read a stanza that does not decode', () => {
    expect(isNoack(parse(`<message noack='1'/>`))).toBe(true);
    expect(isNoack(parse(`<message noack='0'/>`))).toBe(false);
    expect(isNoack(parse(`<message><noack xmlns='${COPILOT_NS}'/></message>`))).toBe(true);
    expect(receivedForm(parse(`<message><body/></message>`))).toBe('report');
    expect(receivedForm(parse(`<message><info xmlns='${COPILOT_NS}'/></message>`))).toBe(
      'namespaced',
    );
  });
});

describe('PeerWireForms', () => {
  it('auto: a peer gets the form it sent; an unknown peer gets both (or the configured one)', () => {
    const forms = new PeerWireForms();
    expect(forms.commandForm('jm@x')).toBe('both');
    forms.learn('jm@x/generic', 'namespaced');
    expect(forms.commandForm('jm@x/generic')).toBe('namespaced');
    // the bare JID is learnt too: an agent addresses its manager by JM_JABBER_ADDRESS
    expect(forms.commandForm('jm@x')).toBe('namespaced');
    forms.learn('perl@x/agent', 'report');
    expect(forms.commandForm('perl@x/agent')).toBe('report');
    expect(forms.commandForm('perl@x/other')).toBe('report');
    // a later message in the other form wins
    forms.learn('perl@x/agent', 'namespaced');
    expect(forms.commandForm('perl@x/agent')).toBe('namespaced');
    expect(new PeerWireForms({ newPeers: 'report' }).commandForm('jm@x')).toBe('report');
  });

  it('a MUC private message teaches the occupant, not the room', () => {
    const forms = new PeerWireForms();
    forms.learn('room@conference.x/perl-agent', 'report', 'chat');
    expect(forms.commandForm('room@conference.x/perl-agent')).toBe('report');
    expect(forms.commandForm('room@conference.x/ours')).toBe('both');
  });

  it('an ack goes back in the form its message came in, unless a form is forced', () => {
    const auto = new PeerWireForms();
    expect(auto.ackForm('namespaced')).toBe('namespaced');
    expect(auto.ackForm(undefined)).toBe('report');
    expect(new PeerWireForms({ mode: 'both' }).ackForm(undefined)).toBe('report');
    expect(new PeerWireForms({ mode: 'namespaced' }).ackForm(undefined)).toBe('namespaced');
    expect(new PeerWireForms({ mode: 'report' }).ackForm('namespaced')).toBe('report');
  });

  it('forced modes ignore what peers send', () => {
    const forms = new PeerWireForms({ mode: 'report' });
    forms.learn('jm@x/generic', 'namespaced');
    expect(forms.commandForm('jm@x/generic')).toBe('report');
    expect(forms.size).toBe(0);
    expect(new PeerWireForms({ mode: 'namespaced' }).commandForm('jm@x')).toBe('namespaced');
  });

  it('remembers at most maxPeers addresses, forgetting the least recently heard from', () => {
    const forms = new PeerWireForms({ maxPeers: 2 });
    forms.learn('a@x', 'namespaced');
    forms.learn('b@x', 'report');
    forms.learn('a@x', 'namespaced');
    forms.learn('c@x', 'report');
    expect(forms.size).toBe(2);
    expect(forms.commandForm('b@x')).toBe('both');
    expect(forms.commandForm('a@x')).toBe('namespaced');
  });
});

describe('wireFormatFromConfig', () => {
  const read = (entries: Record<string, string>) =>
    wireFormatFromConfig(new ConfigValues([new Map(Object.entries(entries))]), 'JM');

  it('defaults to auto with both forms for new peers; reads the two variables', () => {
    expect(read({})).toEqual({ mode: 'auto', newPeers: 'both' });
    expect(read({ JM_WIRE_FORMAT: 'namespaced' })).toEqual({
      mode: 'namespaced',
      newPeers: 'both',
    });
    expect(read({ JM_WIRE_FORMAT_NEW_PEERS: 'report' })).toEqual({
      mode: 'auto',
      newPeers: 'report',
    });
  });

  it('refuses another value, naming the variable', () => {
    expect(() => read({ JM_WIRE_FORMAT: 'xml' })).toThrow(ConfigError);
    expect(() => read({ JM_WIRE_FORMAT_NEW_PEERS: 'auto' })).toThrow(/JM_WIRE_FORMAT_NEW_PEERS/);
  });
});
