/**
 * XEP-0198 stream management as the session needs it, on a server that offers it (ejabberd, by
 * default): nothing of ours goes out before the server has answered `<enable/>`.
 *
 * xmpp.js (0.14) reports the connection online right after resource binding and only then sends
 * `<enable/>`. Stanzas we send in between (initial presence, a MUC join) draw replies that arrive
 * before `<enabled/>`; xmpp.js counts them, resets its counter a few ticks late, and acks more
 * stanzas than the server counted, which ejabberd answers by closing the stream ("Client
 * acknowledged more stanzas than sent by server"). So the session waits for `<enabled/>` or
 * `<failed/>` (or `timeoutMs`, or the features without `<sm/>`) and one more turn of the event
 * loop for xmpp.js to reset its counter.
 *
 * Resumption is never asked for: `<enable/>` goes out without `resume`, so a dropped connection
 * ends the server's session at once (its room presence, its unacked messages bounce back to
 * their senders, who resend) instead of keeping a ghost session for minutes. The session resends
 * unacknowledged commands itself after a reconnect (forgetStream clears what xmpp.js kept).
 */
import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';

export const SM_NS = 'urn:xmpp:sm:3';

export interface StreamManagementGate {
  /** Runs `ready` once our stanzas may go out on the current stream: at once if they may now. */
  whenSettled(ready: () => void): void;
}

/** The slice of an xmpp.js client the gate uses (the real Client, or a test's fake). */
export type GateClient = Pick<Client, 'on' | 'send'>;

function isElement(value: unknown): value is Element {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { getChild?: unknown }).getChild === 'function'
  );
}

/** xmpp.js's XEP-0198 state: what a new stream must not inherit from a dropped one. */
export interface StreamManagementState {
  id: string;
  inbound: number;
  outbound: number;
  outbound_q: unknown[];
}

/**
 * Forgets a dropped stream's XEP-0198 state before the next connection. xmpp.js clears it on
 * 'offline' (stop()) only; after a disconnect it keeps the stanzas the old stream left unacked
 * and its count of received ones. The next stream then trips its own check ("Stream Management
 * assertion failure, queue should be empty after enable") before `<enabled/>` resets the count,
 * and acks the old stream's stanzas as well: ejabberd closes the stream ("Client acknowledged
 * more stanzas than sent by server"), on every reconnect (seen when an ejabberd node under a busy
 * manager was killed). Nothing is lost: the session resends unacknowledged commands itself and
 * joins its rooms again.
 */
export function forgetStream(sm: StreamManagementState): void {
  sm.id = '';
  sm.outbound_q.length = 0;
  sm.outbound = 0;
  sm.inbound = 0;
}

export function streamManagementGate(xmpp: GateClient, timeoutMs = 10_000): StreamManagementGate {
  let pending = false;
  let waiters: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;

  const settle = (): void => {
    clearTimeout(timer);
    timer = undefined;
    pending = false;
    const ready = waiters;
    waiters = [];
    for (const run of ready) run();
  };

  // No resumption: the one place xmpp.js builds <enable/> is not configurable, its send is.
  const send = xmpp.send.bind(xmpp);
  xmpp.send = (element: Element): Promise<void> => {
    if (element.name === 'enable' && element.attrs.xmlns === SM_NS) delete element.attrs.resume;
    return send(element);
  };

  xmpp.on('element', (element: unknown) => {
    if (!isElement(element)) return;
    if (element.name === 'stream:features') {
      // Features before authentication carry no <sm/>; those after it decide.
      if (element.getChild('sm', SM_NS)) pending = true;
      else if (pending) settle();
      return;
    }
    if (pending && element.attrs.xmlns === SM_NS) {
      // xmpp.js resets its counter a few promise turns after this element: settle after them.
      if (element.name === 'enabled' || element.name === 'failed') setImmediate(settle);
    }
  });
  xmpp.on('disconnect', () => settle());

  return {
    whenSettled(ready) {
      if (!pending) {
        ready();
        return;
      }
      waiters.push(ready);
      timer ??= setTimeout(settle, timeoutMs);
    },
  };
}
