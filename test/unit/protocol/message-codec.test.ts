import { xml } from '@xmpp/xml';
import { parse as parseXml } from 'ltx';
import { describe, expect, it } from 'vitest';
import {
  decodeStanzaXml,
  encodeMessage,
  encodeAttributeValue,
  ProtocolError,
  serializedLength,
  type Command,
  type CommandMessage,
  type ProtocolMessage,
} from '@copilot/protocol';

function roundTrip(message: ProtocolMessage): ProtocolMessage {
  return decodeStanzaXml(encodeMessage(message).toString());
}

function commandMessage(command: Command, extra: Partial<CommandMessage> = {}): CommandMessage {
  return {
    kind: 'command',
    to: 'jm@localhost',
    from: 'agent@localhost/a1',
    id: '1a58119b-5c0e-47e8-8320-b865cc4a502e',
    noack: false,
    command,
    ...extra,
  };
}

function expectProtocolError(text: string, code: ProtocolError['code']): void {
  try {
    decodeStanzaXml(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(code);
    return;
  }
  throw new Error(`expected a ProtocolError with code ${code}`);
}

describe('listing 2.1: ack', () => {
  it('parses the report text verbatim', () => {
    const message = decodeStanzaXml(`<message to='jm@jabber.org'
        from='agent@jabber.org'
        ack='1a58119b-5c0e-47e8-8320-b865cc4a502e'
        >
  <body>  </body>
</message>`);
    expect(message).toEqual({
      kind: 'ack',
      to: 'jm@jabber.org',
      from: 'agent@jabber.org',
      ackedId: '1a58119b-5c0e-47e8-8320-b865cc4a502e',
    });
  });

  it('round-trips with an empty body', () => {
    const ack: ProtocolMessage = { kind: 'ack', to: 'a@x', from: 'b@x/r', ackedId: 'id-1' };
    const xml = encodeMessage(ack).toString();
    expect(xml).toContain('ack="id-1"');
    expect(xml).toContain('<body/>');
    expect(roundTrip(ack)).toEqual(ack);
  });
});

describe('listing 2.2: noack reportEvent', () => {
  it('parses the report text (value elided in the report is replaced by real base64)', () => {
    const component = encodeAttributeValue('jobmanager.generic.alpha');
    const message = decodeStanzaXml(`<message to='mon@jabber.org'
        from='jm@jabber.org/alpha'
        noack='1'>
  <body>
    <info command='__BASE64:cmVwb3J0RXZlbnQ='
          component='${component}'
          event='__BASE64:c2Vzc2lvbi5zdGFydA==' />
  </body>
</message>`);
    expect(message.kind).toBe('command');
    if (message.kind !== 'command') return;
    expect(message.noack).toBe(true);
    expect(message.command).toEqual({
      command: 'reportEvent',
      component: 'jobmanager.generic.alpha',
      event: 'session.start',
    });
  });

  it('round-trips noack and encodes every attribute value as _BASE64: (the job listings and the original)', () => {
    const message = commandMessage(
      { command: 'reportEvent', component: 'agent', event: 'job.start' },
      { noack: true },
    );
    const xml = encodeMessage(message).toString();
    expect(xml).toContain('noack="1"');
    const infoAttributes = [...xml.matchAll(/ (\w+)="([^"]*)"/g)].filter(
      ([, name]) => !['to', 'from', 'id', 'noack'].includes(name ?? ''),
    );
    expect(infoAttributes.length).toBe(3);
    for (const [, , value] of infoAttributes) expect(value).toMatch(/^_BASE64:[A-Za-z0-9+/=]+$/);
    expect(roundTrip(message)).toEqual(message);
  });
});

describe('listing 2.3: want_getJob with the single-underscore prefix', () => {
  it('accepts _BASE64: values, including trailing white space', () => {
    const jdl = Buffer.from('[ Type = "machine" ]').toString('base64');
    const message = decodeStanzaXml(`<message to='jm@jabber.org' from='agent@jabber.org'>
  <body>
    <info agentHost='_BASE64:Y3ZtYXBwaTI0LmNlcm4uY2g='
      jdl='_BASE64:${jdl}'
      command='_BASE64:d2FudF9nZXRKb2I= '
    />
  </body>
</message>`);
    expect(message.kind === 'command' && message.command).toEqual({
      command: 'want_getJob',
      agentHost: 'cvmappi24.cern.ch',
      jdl: '[ Type = "machine" ]',
    });
  });
});

describe('section 2.2 commands round-trip', () => {
  const commands: Command[] = [
    {
      command: 'want_getJob',
      agentHost: 'h1',
      agentIP: '10.0.0.1',
      jdl: '[ A = 1 ]',
      jmJobData: 'x',
    },
    { command: 'have_getJob', requireFile: '/cvmfs/sft.cern.ch' },
    { command: 'have_getJob' },
    { command: 'getJob', agentHost: 'h1', jdl: '[ A = 1 ]' },
    {
      command: 'runJob',
      jmJobData: 'startedAt=1',
      job: {
        id: 'job-1',
        command: 'calculator.sh',
        arguments: '-v 2',
        environment: 'A=1 B=two',
        packages: 'ROOT Geant4',
        inputFiles: 'calculator.sh data.txt',
        chirpUrl: 'http://127.0.0.1:8088',
        inputDir: '/storage/input/job-1/abc',
        outputDir: '/storage/output/job-1/def',
        validation: 'validate.sh',
      },
    },
    { command: 'want_getJobOutputDir', agentHost: 'h1', jobID: 'job-1', jmJobData: 'd' },
    { command: 'have_getJobOutputDir' },
    { command: 'getJobOutputDir', agentHost: 'h1', jobID: 'job-1' },
    {
      command: 'storeJobOutputDir',
      outputChirpUrl: 'chirp.example.org:9094',
      outputDir: '/out/job-1',
      jobID: 'job-1',
      jmJobData: 'd2',
    },
    { command: 'jobDone', exitCode: 0, agentHost: 'h1', state: 'done', jobID: 'job-1' },
    { command: 'jobDone', exitCode: 137, agentHost: 'h1', state: 'failed', jobID: 'job-2' },
    { command: 'reportEventDuration', component: 'agent', event: 'job.run', duration: 1234.5 },
    { command: 'reportEventValue', component: 'agent', event: 'system.load.1min', value: 0.42 },
    { command: 'Heartbeat:getStatus', component: 'systemLoad' },
    { command: 'haveStatus', component: 'systemLoad', status: '0.90 0.65 0.52' },
    { command: 'Heartbeat:ping' },
    { command: 'pong' },
    {
      command: 'secure',
      sessionKey: 'd3JhcHBlZA==',
      keyId: 'k1',
      nonce: 'bm9uY2U=',
      ciphertext: 'Y3Q=',
    },
    { command: 'secure', keyId: 'k1', nonce: 'bm9uY2U=', ciphertext: 'Y3Q=' },
    {
      command: 'runJob',
      job: {
        id: 'job-3',
        command: 'run.sh',
        arguments: '',
        environment: '',
        packages: '',
        inputFiles: 'run.sh',
        chirpUrl: 'http://127.0.0.1:8088',
        inputDir: '/in',
        outputDir: '/out',
        image: `127.0.0.1:5000/copilot/job@sha256:${'a'.repeat(64)}`,
      },
    },
    { command: 'adminOrder', order: 'drain', reason: 'maintenance' },
    { command: 'adminOrder', order: 'resume' },
  ];

  for (const command of commands) {
    it(`${command.command} ${JSON.stringify(command).slice(0, 60)}`, () => {
      const message = commandMessage(command);
      expect(roundTrip(message)).toEqual(message);
    });
  }

  it('puts runJob details in a nested <job> element', () => {
    const xml = encodeMessage(commandMessage(commands[4] as Command)).toString();
    expect(xml).toMatch(/<info [^>]*><job [^>]*\/><\/info>/);
  });

  it('nests the secure-mode payload in an inner <info>', () => {
    const xml = encodeMessage(commandMessage(commands[17] as Command)).toString();
    expect(xml).toMatch(/<info [^>]*session_key=[^>]*><info data=[^>]*\/><\/info>/);
    expect(xml).not.toContain('command=');
  });
});

describe('listings 2.5 and 2.6: redirect', () => {
  const redirectXml = `<message to='agent@cvmappi21.cern.ch' from='jmreal@cvmappi21.cern.ch' id='r1'>
  <body>
    <info referral='_BASE64:c3RvcmFnZXJlYWxAY3ZtYXBwaTIxLmNlcm4uY2g='
          command='_BASE64:cmVkaXJlY3Q='>
      <info to='_BASE64:amlyZWFsQGN2bWFwcGkyMS5jZXJuLmNo'
            exitCode='_BASE64:MA=='
            jobId='_BASE64:MzA4MDE3NDE='
            state='_BASE64:ZG9uZQ=='
            agentHost='_BASE64:Y3ZtYXBwaTIx'
            jmJobData='_BASE64:c3RhcnRlZEF0PQo='
            command='_BASE64:am9iRG9uZQ==' />
    </info>
  </body>
</message>`;

  it('decodes the nested command, reading jobId as jobID', () => {
    const message = decodeStanzaXml(redirectXml);
    expect(message.kind === 'command' && message.command).toEqual({
      command: 'redirect',
      referral: 'storagereal@cvmappi21.cern.ch',
      info: {
        command: 'jobDone',
        exitCode: 0,
        jobID: '30801741',
        state: 'done',
        agentHost: 'cvmappi21',
        jmJobData: 'startedAt=\n',
      },
    });
  });

  it('round-trips a redirect around a jobDone (listing 2.6 is its forwarded inner info)', () => {
    const message = commandMessage({
      command: 'redirect',
      referral: 'storage@localhost',
      info: { command: 'jobDone', exitCode: 0, agentHost: 'h', state: 'done', jobID: 'j1' },
    });
    expect(roundTrip(message)).toEqual(message);
  });
});

describe('malformed input gets a typed error', () => {
  it('no body', () => expectProtocolError(`<message to='a@x' id='1'/>`, 'no-body'));
  it('an admin order that is not drain, pause or resume', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='adminOrder' order='reboot'/></body></message>`,
      'invalid-attribute',
    ));
  it('no info', () =>
    expectProtocolError(`<message to='a@x' id='1'><body>hi</body></message>`, 'no-info'));
  it('bad base64', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='__BASE64:***'/></body></message>`,
      'bad-base64',
    ));
  it('base64 of invalid UTF-8', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='__BASE64:/w=='/></body></message>`,
      'bad-base64',
    ));
  it('unknown command', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='${encodeAttributeValue('rm -rf')}'/></body></message>`,
      'unknown-command',
    ));
  it('missing required attribute', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='${encodeAttributeValue('jobDone')}'/></body></message>`,
      'missing-attribute',
    ));
  it('non-numeric exit code', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='${encodeAttributeValue('jobDone')}' exitCode='${encodeAttributeValue('zero')}' agentHost='h' state='done' jobID='j'/></body></message>`,
      'invalid-attribute',
    ));
  it('runJob without <job>', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='${encodeAttributeValue('runJob')}'/></body></message>`,
      'missing-attribute',
    ));
  it('oversize stanza', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body><info command='x' pad='${'A'.repeat(300_000)}'/></body></message>`,
      'oversize',
    ));
  it('malformed XML', () => expectProtocolError(`<message to='a@x'><body>`, 'malformed-xml'));
  it('not a message', () => expectProtocolError(`<iq to='a@x' type='get'/>`, 'not-a-message'));
  it('deep nesting', () =>
    expectProtocolError(
      `<message to='a@x' id='1'><body>${'<info>'.repeat(20)}${'</info>'.repeat(20)}</body></message>`,
      'invalid-attribute',
    ));

  it('a type=error message is a bounce, not a crash', () => {
    const message = decodeStanzaXml(
      `<message type='error' id='m1' from='jm@x'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
    );
    expect(message).toMatchObject({ kind: 'bounce', id: 'm1', reason: 'service-unavailable' });
  });

  it('attribute named __proto__ does not pollute objects', () => {
    const message = decodeStanzaXml(
      `<message to='a@x' id='1'><body><info command='pong' __proto__='${encodeAttributeValue('x')}'/></body></message>`,
    );
    expect(message.kind === 'command' && message.command).toEqual({ command: 'pong' });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('serializedLength', () => {
  it('is the length of the serialized stanza, escapes included', () => {
    const samples = [
      xml('message', { to: 'a@x', id: '1' }),
      xml('message', { to: `q"u'o&t<e>s`, n: 42 }, xml('body', {}, 'text & <tags> "quoted" 😀')),
      xml('message', {}, 'a', xml('b', { c: '' }, xml('d')), 'e'),
      parseXml(
        `<message to='a@x' id='1'><body><info command='x' v='&amp;&lt;&quot;'>t&gt;</info></body></message>`,
      ) as ReturnType<typeof xml>,
    ];
    for (const element of samples) {
      expect(serializedLength(element)).toBe(element.toString().length);
    }
  });

  it('stops counting soon after the limit', () => {
    const big = xml(
      'message',
      {},
      ...Array.from({ length: 1000 }, () => xml('x', {}, 'y'.repeat(100))),
    );
    const length = serializedLength(big, 500);
    expect(length).toBeGreaterThan(500);
    expect(length).toBeLessThan(big.toString().length);
  });
});

describe('a stanza nested tens of thousands deep', () => {
  it('is measured without overflowing the stack and refused as a ProtocolError', () => {
    const depth = 30_000;
    const nested = `${'<x>'.repeat(depth)}${'</x>'.repeat(depth)}`;
    expectProtocolError(`<message to='a@b' id='1'><body>${nested}</body></message>`, 'no-info');
  });
});
