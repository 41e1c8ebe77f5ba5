/**
 * Who may send reportEvent, reportEventDuration and reportEventValue to the Monitor
 * (MON_ALLOWED_SENDERS). The report (2.2.5) lets any XMPP account report; an entry here is one of:
 *
 * - a full JID, `jmgeneric@xmpp.cern.ch/alpha`: that resource only;
 * - a bare JID, `jmgeneric@xmpp.cern.ch`: that account with any resource;
 * - `*@agents.cern.ch`: every account of that domain.
 *
 * Bare parts compare case-insensitively (XMPP folds their case), resources exactly.
 *
 * A sender admitted only by a `*@domain` entry (the volunteers' agents: with attach links
 * anyone with an invite has an account there) reports only under `agent.*` components, so it
 * cannot pass for a Job Manager (queue lengths, batch progress); managers are named one by one.
 */
import { bareJid, sameJid } from '@copilot/protocol';

type SenderPattern =
  | { kind: 'domain'; domain: string }
  | { kind: 'bare'; bare: string }
  | { kind: 'full'; jid: string };

const ENTRY = /^(\*|[^@/\s,*]+)@([^@/\s,*]+)(?:\/([^\s,]+))?$/;

/** Splits MON_ALLOWED_SENDERS at white space and commas. */
export function splitSenderList(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry !== '');
}

/** The pattern an entry stands for, or undefined when it is none of the three forms. */
export function parseSenderPattern(entry: string): SenderPattern | undefined {
  const match = ENTRY.exec(entry);
  if (!match) return undefined;
  const [, local, domain, resource] = match;
  if (local === '*') {
    return resource === undefined
      ? { kind: 'domain', domain: String(domain).toLowerCase() }
      : undefined;
  }
  if (resource !== undefined) return { kind: 'full', jid: entry };
  return { kind: 'bare', bare: entry.toLowerCase() };
}

function matches(pattern: SenderPattern, from: string): boolean {
  const bare = bareJid(from).toLowerCase();
  switch (pattern.kind) {
    case 'full':
      return sameJid(pattern.jid, from);
    case 'bare':
      return bare === pattern.bare;
    case 'domain': {
      const at = bare.indexOf('@');
      return at > 0 && bare.slice(at + 1) === pattern.domain;
    }
  }
}

export class SenderAllowList {
  private readonly patterns: readonly SenderPattern[];

  /** Throws on an entry that is none of the three forms (the configuration checks first). */
  constructor(readonly entries: readonly string[]) {
    this.patterns = entries.map((entry) => {
      const pattern = parseSenderPattern(entry);
      if (!pattern) throw new Error(`not a sender JID or *@domain: ${entry}`);
      return pattern;
    });
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  allows(from: string): boolean {
    return this.patterns.some((pattern) => matches(pattern, from));
  }

  /** Whether `from` may report under `component` (a `*@domain` match: `agent.*` only). */
  allowsReport(from: string, component: string): boolean {
    return this.patterns.some(
      (pattern) =>
        matches(pattern, from) && (pattern.kind !== 'domain' || isAgentComponent(component)),
    );
  }
}

/** An agent's component (`agent.<resource>`), as opposed to a manager's. */
export function isAgentComponent(component: string): boolean {
  return component.startsWith('agent.');
}
