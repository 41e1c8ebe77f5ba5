// Minimal typings for the parts of xmpp.js (0.14) this project uses; the packages ship none.
declare module '@xmpp/xml' {
  export type Node = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string | number | undefined>);
    name: string;
    attrs: Record<string, string>;
    children: Node[];
    parent: Element | null;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    append(...nodes: Node[]): Element;
    is(name: string, xmlns?: string): boolean;
    attr(name: string): string | undefined;
    toString(): string;
  }
  export function xml(
    name: string,
    attrs?: Record<string, string | number | undefined> | null,
    ...children: Array<Node | Node[] | undefined>
  ): Element;
  export class XMLError extends Error {}
  export class Parser {
    write(data: string): void;
    end(data?: string): void;
    on(event: 'element' | 'start' | 'end', cb: (el: Element) => void): void;
    on(event: 'error', cb: (err: Error) => void): void;
  }
  export default xml;
}

declare module '@xmpp/jid' {
  export class JID {
    local: string;
    domain: string;
    resource: string;
    toString(): string;
    bare(): JID;
    equals(other: JID): boolean;
  }
  export default function jid(address: string): JID;
}

declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';
  import type { Element } from '@xmpp/xml';
  import type { JID } from '@xmpp/jid';

  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    credentials?: (
      auth: (creds: { username: string; password: string }) => Promise<void>,
      mechanisms: string[],
    ) => Promise<void>;
    timeout?: number;
  }

  export interface Reconnect extends EventEmitter {
    delay: number;
    reconnect(): Promise<void>;
    stop(): void;
    start(): void;
  }

  export interface Client extends EventEmitter {
    jid: JID | null;
    status: string;
    timeout: number;
    reconnect: Reconnect;
    /**
     * XEP-0198; `id` is the resumable session's, '' when there is none to resume; `outbound_q`
     * the stanzas sent and not yet acked, `inbound` the stanzas received on this stream.
     */
    streamManagement?: { id: string; inbound: number; outbound: number; outbound_q: unknown[] };
    socket:
      | (EventEmitter & {
          setTimeout?: (ms: number) => void;
          setNoDelay?: (noDelay: boolean) => void;
        })
      | null;
    options: ClientOptions & Record<string, unknown>;
    start(): Promise<JID>;
    stop(): Promise<void>;
    send(element: Element): Promise<void>;
    /** IQ requests: resolves with the result IQ, rejects with the error or on timeout. */
    iqCaller: { request(stanza: Element, timeoutMs?: number): Promise<Element> };
    /** Writes raw text to the stream (no serialisation). */
    write(data: string): Promise<void>;
    disconnect(timeout?: number): Promise<void>;
    on(event: 'stanza', listener: (stanza: Element) => void): this;
    on(event: 'online', listener: (jid: JID) => void): this;
    on(event: 'offline', listener: () => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'status', listener: (status: string) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export function client(options: ClientOptions): Client;
  export { xml } from '@xmpp/xml';
  export { default as jid } from '@xmpp/jid';
}

declare module 'ltx' {
  import type { Element } from '@xmpp/xml';
  /** Returns null when the document ends before its root element is closed. */
  export function parse(data: string): Element | null;
}
