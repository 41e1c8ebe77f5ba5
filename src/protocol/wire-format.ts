/**
 * Which form of the message layer (message-codec.ts: the report's, or namespaced) goes to whom.
 *
 * - 'auto' (default): a peer gets the form it last sent us; a peer we have not heard from gets
 *   `newPeers` ('both' unless configured): the report's form for the original components, with
 *   the namespaced `<info>` beside it for a server that empties `<body>` (ejabberd).
 * - 'report', 'namespaced', 'both': every command in that form, whoever the peer (a deployment
 *   that knows its server and its peers).
 *
 * An ack goes back in the form its message came in (a report-only peer reads nothing else, and
 * what came through the server will go back through it), unless the mode is 'report' or
 * 'namespaced'. Peers are remembered by full JID, and by bare JID too except in MUC private
 * messages (type chat or groupchat), whose bare JID is the room everyone shares.
 */
import type { ConfigValues } from './config-file';
import type { MessageType, ReceivedForm, WireForm } from './message-codec';

export const WIRE_FORMAT_MODES = ['auto', 'report', 'namespaced', 'both'] as const;
export type WireFormatMode = (typeof WIRE_FORMAT_MODES)[number];

export const WIRE_FORMS = ['both', 'report', 'namespaced'] as const;

export interface WireFormatOptions {
  /** Default 'auto'. */
  mode?: WireFormatMode;
  /** What an unknown peer gets in 'auto' mode; default 'both'. */
  newPeers?: WireForm;
  /** Peers remembered at most (least recently heard from are forgotten); default 100,000. */
  maxPeers?: number;
}

/**
 * The deployment's choice, from `<PREFIX>_WIRE_FORMAT` (auto, report, namespaced, both; default
 * auto) and `<PREFIX>_WIRE_FORMAT_NEW_PEERS` (both, report, namespaced; default both), e.g.
 * JM_WIRE_FORMAT for the manager and AGENT_WIRE_FORMAT for the agent.
 */
export function wireFormatFromConfig(values: ConfigValues, prefix: string): WireFormatOptions {
  return {
    mode: values.choice(`${prefix}_WIRE_FORMAT`, WIRE_FORMAT_MODES, 'auto'),
    newPeers: values.choice(`${prefix}_WIRE_FORMAT_NEW_PEERS`, WIRE_FORMS, 'both'),
  };
}

function bare(jid: string): string {
  const slash = jid.indexOf('/');
  return slash === -1 ? jid : jid.slice(0, slash);
}

export class PeerWireForms {
  readonly mode: WireFormatMode;
  readonly newPeers: WireForm;
  private readonly maxPeers: number;
  /** In order of last use, oldest first (Map keeps insertion order). */
  private readonly peers = new Map<string, ReceivedForm>();

  constructor(options: WireFormatOptions = {}) {
    this.mode = options.mode ?? 'auto';
    this.newPeers = options.newPeers ?? 'both';
    this.maxPeers = Math.max(1, options.maxPeers ?? 100_000);
  }

  /** Notes the form a message from `from` came in. */
  learn(from: string, form: ReceivedForm, type?: MessageType): void {
    if (this.mode !== 'auto' || from === '') return;
    this.remember(from, form);
    if (type !== 'chat' && type !== 'groupchat' && from.includes('/')) {
      this.remember(bare(from), form);
    }
  }

  /** The form a command to `to` is written in. */
  commandForm(to: string): WireForm {
    if (this.mode !== 'auto') return this.mode;
    return this.peers.get(to) ?? this.peers.get(bare(to)) ?? this.newPeers;
  }

  /** The form of the ack of a message that came in `received` (unknown: the report's). */
  ackForm(received: ReceivedForm | undefined): WireForm {
    if (this.mode === 'report' || this.mode === 'namespaced') return this.mode;
    return received ?? 'report';
  }

  /** How many addresses are remembered (for tests and diagnostics). */
  get size(): number {
    return this.peers.size;
  }

  private remember(address: string, form: ReceivedForm): void {
    this.peers.delete(address);
    this.peers.set(address, form);
    if (this.peers.size > this.maxPeers) {
      const oldest = this.peers.keys().next().value;
      if (oldest !== undefined) this.peers.delete(oldest);
    }
  }
}
