import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parse as parseXml } from 'ltx';
import type { Element } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { SM_NS, streamManagementGate } from '@copilot/transport/stream-management';

/** The events and send of an xmpp.js client, as the gate sees them. */
class FakeStream extends EventEmitter {
  sent: string[] = [];

  send(element: Element): Promise<void> {
    this.sent.push(element.toString());
    return Promise.resolve();
  }

  receive(text: string): void {
    this.emit('element', parseXml(text));
  }
}

const FEATURES_WITH_SM = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='${SM_NS}'/></stream:features>`;
const FEATURES_WITHOUT_SM = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`;

describe('streamManagementGate', () => {
  it('without <sm/> in the features, our stanzas may go at once', () => {
    const stream = new FakeStream();
    const gate = streamManagementGate(stream as never);
    stream.receive(FEATURES_WITHOUT_SM);
    let ran = false;
    gate.whenSettled(() => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('with <sm/>, waits for <enabled/> and one more turn of the event loop', async () => {
    const stream = new FakeStream();
    const gate = streamManagementGate(stream as never);
    stream.receive(FEATURES_WITH_SM);
    let ran = 0;
    gate.whenSettled(() => {
      ran += 1;
    });
    await nextTurn();
    expect(ran).toBe(0);
    stream.receive(`<enabled xmlns='${SM_NS}' id='x' max='300'/>`);
    expect(ran).toBe(0); // xmpp.js has not reset its counter yet
    await nextTurn();
    expect(ran).toBe(1);
    // settled for the rest of this stream
    gate.whenSettled(() => {
      ran += 1;
    });
    expect(ran).toBe(2);
  });

  it('<failed/>, a disconnect or the timeout settle it too', async () => {
    const failed = new FakeStream();
    const gateA = streamManagementGate(failed as never);
    failed.receive(FEATURES_WITH_SM);
    let a = false;
    gateA.whenSettled(() => {
      a = true;
    });
    failed.receive(`<failed xmlns='${SM_NS}'/>`);
    await nextTurn();
    expect(a).toBe(true);

    const dropped = new FakeStream();
    const gateB = streamManagementGate(dropped as never);
    dropped.receive(FEATURES_WITH_SM);
    let b = false;
    gateB.whenSettled(() => {
      b = true;
    });
    dropped.emit('disconnect');
    expect(b).toBe(true);

    const silent = new FakeStream();
    const gateC = streamManagementGate(silent as never, 20);
    silent.receive(FEATURES_WITH_SM);
    let c = false;
    gateC.whenSettled(() => {
      c = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(c).toBe(true);
  });

  it('asks for no resumption: <enable/> goes out without resume', async () => {
    const stream = new FakeStream();
    streamManagementGate(stream as never);
    const enable = parseXml(`<enable xmlns='${SM_NS}' resume='true' max='60'/>`) as Element;
    await (stream as unknown as { send: (element: Element) => Promise<void> }).send(enable);
    expect(stream.sent).toEqual([`<enable xmlns="${SM_NS}" max="60"/>`]);
    const presence = parseXml(`<presence resume='kept'/>`) as Element;
    await (stream as unknown as { send: (element: Element) => Promise<void> }).send(presence);
    expect(stream.sent[1]).toBe('<presence resume="kept"/>');
  });
});
