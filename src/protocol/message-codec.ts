/**
 * The message layer of report 2.1, in two forms (README, "How we speak the report's protocol"):
 *
 * - 'report': `<message id ack? noack?><body><info command=…/></body></message>`, as the report
 *   and the original Perl components write it; an ack is `<message ack='<id>'><body/></message>`.
 * - 'namespaced': the same `<info>` as a direct child of `<message>` in COPILOT_NS, an ack as
 *   `<ack xmlns=COPILOT_NS id='<id>'/>`, noack as `<noack xmlns=COPILOT_NS/>`. A server that
 *   re-serialises stanzas to RFC 6120 (ejabberd: `<body>` is text only, unknown attributes of
 *   `<message>` are dropped) relays this form intact, privately and through MUC.
 *
 * decodeStanza reads both and marks what came namespaced (`form`); encodeMessage writes either, or
 * 'both' for a command (the report's form and the namespaced `<info>` beside it), which report-
 * only peers read as the report's form. Which form goes to whom is wire-format.ts's business.
 */
import { randomUUID } from 'node:crypto';
import { xml, type Element } from '@xmpp/xml';
import { parse as parseXml } from 'ltx';
import type { Command } from './commands';
import { commandFromInfo, commandToInfo } from './command-codec';
import { infoNodeFromElement, infoNodeToElement } from './info-node';
import { ProtocolError } from './protocol-error';
import { errorMessage } from '../base/errors';

/** Largest stanza accepted, in characters of serialized XML. Generous for JDL and job data. */
export const DEFAULT_MAX_STANZA_CHARS = 256 * 1024;

/** Our namespace: the namespaced form's `<info>`, `<ack>` and `<noack>` (version 0). */
export const COPILOT_NS = 'urn:xmpp:copilot:0';

/** The form a message arrived in. */
export type ReceivedForm = 'report' | 'namespaced';

/** The form a message is written in: one of the two, or (commands) both at once. */
export type WireForm = ReceivedForm | 'both';

/** The XMPP message type; Co-Pilot uses 'normal' (omitted) and 'chat' for MUC private messages. */
export type MessageType = 'normal' | 'chat' | 'groupchat';

interface Addressed {
  to: string;
  from: string;
  type?: MessageType;
}

/** Listing 2.1: an empty body and the acknowledged message's id in the `ack` attribute. */
export interface AckMessage extends Addressed {
  kind: 'ack';
  ackedId: string;
  /** Set by decodeStanza when it arrived namespaced; unset for the report's form. */
  form?: ReceivedForm;
}

export interface CommandMessage extends Addressed {
  kind: 'command';
  id: string;
  /** Listing 2.2: the recipient must not acknowledge. */
  noack: boolean;
  command: Command;
  /** Set by decodeStanza when it arrived namespaced (unset: the report's form); its ack goes
   * back in the same form. */
  form?: ReceivedForm;
}

/** A type='error' message: the server bounced one of ours (e.g. the recipient is offline). */
export interface BounceMessage extends Addressed {
  kind: 'bounce';
  id: string;
  reason: string;
}

export type ProtocolMessage = AckMessage | CommandMessage | BounceMessage;

export interface DecodeOptions {
  maxStanzaChars?: number;
}

export function newMessageId(): string {
  return randomUUID();
}

function messageType(raw: string | undefined): MessageType | undefined {
  return raw === 'chat' || raw === 'groupchat' || raw === 'normal' ? raw : undefined;
}

/** The defined condition of a type='error' stanza (`item-not-found`, `conflict`, …), if any. */
export function errorCondition(stanza: Element): string | undefined {
  const condition = stanza.getChild('error')?.children.find((child) => typeof child !== 'string');
  return typeof condition === 'object' ? condition.name : undefined;
}

/** What ltx's escaping adds per character, in text and in attribute values (also quotes). */
const TEXT_GROWTH: Readonly<Record<string, number>> = { '&': 4, '<': 3, '>': 3 };
const ATTRIBUTE_GROWTH: Readonly<Record<string, number>> = { ...TEXT_GROWTH, '"': 5, "'": 5 };
const ESCAPED = /["&'<>]/;

function escapedLength(text: string, growth: Readonly<Record<string, number>>): number {
  // Most values are base64 with nothing to escape: one native scan, no loop.
  if (!ESCAPED.test(text)) return text.length;
  let length = text.length;
  for (const character of text) length += growth[character] ?? 0;
  return length;
}

/**
 * `element.toString().length` without building the string (this runs for every stanza
 * received); stops counting once past `limit`, so an oversize stanza costs no more than that.
 * Iterative: a peer can nest elements tens of thousands deep within the size limit, which
 * would overflow the stack of a recursive walk.
 */
export function serializedLength(element: Element, limit = Infinity): number {
  let length = 0;
  const pending: Array<Element | string> = [element];
  while (pending.length > 0 && length <= limit) {
    const next = pending.pop() as Element | string;
    if (typeof next === 'string') {
      length += next.length; // a closing tag, queued below
      continue;
    }
    length += 1 + next.name.length; // <name
    const attrs = next.attrs;
    for (const name in attrs) {
      const value = attrs[name];
      if (value === undefined || value === null) continue;
      length += name.length + 4 + escapedLength(String(value), ATTRIBUTE_GROWTH); // ␠name="value"
    }
    if (next.children.length === 0) {
      length += 2; // />
      continue;
    }
    length += 1; // >
    pending.push(`</${next.name}>`);
    for (let index = next.children.length - 1; index >= 0; index -= 1) {
      const child = next.children[index];
      if (typeof child === 'string') length += escapedLength(child, TEXT_GROWTH);
      else if (child !== null && child !== undefined) pending.push(child);
    }
  }
  return length;
}

/** Decodes one XMPP <message> into a typed Co-Pilot message, or throws a ProtocolError. */
export function decodeStanza(stanza: Element, options: DecodeOptions = {}): ProtocolMessage {
  if (stanza.name !== 'message') {
    throw new ProtocolError('not-a-message', `expected <message>, got <${stanza.name}>`);
  }
  const maxChars = options.maxStanzaChars ?? DEFAULT_MAX_STANZA_CHARS;
  if (serializedLength(stanza, maxChars) > maxChars) {
    throw new ProtocolError('oversize', `stanza larger than ${maxChars} characters`);
  }
  const to = stanza.attrs.to ?? '';
  const from = stanza.attrs.from ?? '';
  const addressed: Addressed = { to, from };
  const type = messageType(stanza.attrs.type);
  if (type) addressed.type = type;

  if (stanza.attrs.type === 'error') {
    return {
      kind: 'bounce',
      ...addressed,
      id: stanza.attrs.id ?? '',
      reason: errorCondition(stanza) ?? 'unknown error',
    };
  }
  const namespacedAck = stanza.getChild('ack', COPILOT_NS);
  if (namespacedAck) {
    return { kind: 'ack', ...addressed, ackedId: namespacedAck.attrs.id ?? '', form: 'namespaced' };
  }
  if (stanza.attrs.ack !== undefined) {
    return { kind: 'ack', ...addressed, ackedId: stanza.attrs.ack };
  }
  // The namespaced <info> wins when both came: it is the one no server rewrites.
  const namespacedInfo = stanza.getChild('info', COPILOT_NS);
  const body = stanza.getChild('body');
  const info = namespacedInfo ?? body?.getChild('info');
  if (!info) {
    if (!body) throw new ProtocolError('no-body', 'message has no <body> and no <info> of ours');
    throw new ProtocolError('no-info', '<body> has no <info>');
  }
  return {
    kind: 'command',
    ...addressed,
    id: stanza.attrs.id ?? '',
    noack: isNoack(stanza),
    command: commandFromInfo(infoNodeFromElement(info)),
    ...(namespacedInfo ? { form: 'namespaced' as const } : {}),
  };
}

/** Listing 2.2's noack attribute (not '0'), or our namespaced <noack/>. */
export function isNoack(stanza: Element): boolean {
  const { noack } = stanza.attrs;
  return (
    (noack !== undefined && noack !== '0') || stanza.getChild('noack', COPILOT_NS) !== undefined
  );
}

/** The form of a message we may not be able to decode: namespaced if anything of ours is in it. */
export function receivedForm(stanza: Element): ReceivedForm {
  return stanza.children.some(
    (child) => typeof child !== 'string' && child.attrs.xmlns === COPILOT_NS,
  )
    ? 'namespaced'
    : 'report';
}

/** Writes a message in `form` (default the report's); 'both' writes an ack in both as well. */
export function encodeMessage(message: ProtocolMessage, form: WireForm = 'report'): Element {
  const attrs: Record<string, string> = { to: message.to };
  if (message.from) attrs.from = message.from;
  if (message.type && message.type !== 'normal') attrs.type = message.type;
  const report = form !== 'namespaced';
  const namespaced = form !== 'report';
  switch (message.kind) {
    case 'ack': {
      if (report) attrs.ack = message.ackedId;
      return xml(
        'message',
        attrs,
        report ? xml('body', {}) : undefined,
        namespaced ? xml('ack', { xmlns: COPILOT_NS, id: message.ackedId }) : undefined,
      );
    }
    case 'bounce':
      return xml('message', { ...attrs, id: message.id, type: 'error' }, xml('error', {}));
    case 'command': {
      attrs.id = message.id;
      if (message.noack && report) attrs.noack = '1';
      const info = infoNodeToElement(commandToInfo(message.command));
      const stanza = xml('message', attrs);
      if (report) stanza.append(xml('body', {}, info));
      if (namespaced) {
        const ours = report ? infoNodeToElement(commandToInfo(message.command)) : info;
        ours.attrs.xmlns = COPILOT_NS;
        stanza.append(ours);
        if (message.noack) stanza.append(xml('noack', { xmlns: COPILOT_NS }));
      }
      return stanza;
    }
  }
}

/** Parses XML text and decodes it; malformed XML becomes a ProtocolError like any other fault. */
export function decodeStanzaXml(text: string, options: DecodeOptions = {}): ProtocolMessage {
  const maxChars = options.maxStanzaChars ?? DEFAULT_MAX_STANZA_CHARS;
  if (text.length > maxChars) {
    throw new ProtocolError('oversize', `stanza larger than ${maxChars} characters`);
  }
  let element: Element | null;
  try {
    element = parseXml(text);
  } catch (error) {
    const reason = errorMessage(error);
    throw new ProtocolError('malformed-xml', `malformed XML: ${reason}`);
  }
  if (!element) throw new ProtocolError('malformed-xml', 'malformed XML: unclosed root element');
  return decodeStanza(element, options);
}
