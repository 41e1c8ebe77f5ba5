/**
 * Who may act through the dashboard: a request that changes something (ask now, drain, pause,
 * resume) must be a POST from the dashboard's own origin, carry JSON, and name the admin token
 * (MON_ADMIN_TOKEN_FILE) as `Authorization: Bearer <token>`. A browser sends the header only
 * when our page's script sets it, and a cross-site form can neither set it nor send JSON, so the
 * token is also the CSRF defence; the Origin check is a second one. Refusals are counted and
 * logged at a bounded rate.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '@copilot/protocol';
import { escapeLogText, type Logger } from '@copilot/base/logger';
import { ThrottledLog } from '@copilot/base/throttled-log';

/** Shortest admin token accepted: 24 characters (e.g. `openssl rand -base64 24` gives 32). */
export const MIN_ADMIN_TOKEN_CHARS = 24;

/** Reads the admin token: the file's first line, trimmed; a short or missing one is an error. */
export function readAdminToken(file: string, logger?: Logger): string {
  let text: string;
  let mode: number;
  try {
    text = fs.readFileSync(file, 'utf8');
    mode = fs.statSync(file).mode;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(
      `MON_ADMIN_TOKEN_FILE: cannot read ${file} (${code})`,
      'MON_ADMIN_TOKEN_FILE',
    );
  }
  const token = (text.split(/\r?\n/)[0] ?? '').trim();
  if (token.length < MIN_ADMIN_TOKEN_CHARS || /\s/.test(token)) {
    throw new ConfigError(
      `MON_ADMIN_TOKEN_FILE: the token in ${file} must be one line of at least ${MIN_ADMIN_TOKEN_CHARS} characters without spaces`,
      'MON_ADMIN_TOKEN_FILE',
    );
  }
  if ((mode & 0o077) !== 0) {
    logger?.warn('the admin token file can be read by other users; chmod 600 it', {
      file: escapeLogText(file, 200),
    });
  }
  return token;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares in constant time (digests of equal length, whatever the offered length). */
export function tokenMatches(expected: string, offered: string | undefined): boolean {
  if (offered === undefined) return false;
  return timingSafeEqual(digest(expected), digest(offered));
}

export type RefusalReason = 'method' | 'origin' | 'content-type' | 'token' | 'disabled';

export type GateVerdict = { ok: true } | { ok: false; status: number; reason: RefusalReason };

/** The host[:port] an Origin header names, or undefined when it is not a URL. */
function originHost(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : undefined;
  } catch {
    return undefined;
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Same-origin check: an Origin header must name the Host the request was sent to. */
export function sameOrigin(request: IncomingMessage): boolean {
  const origin = header(request, 'origin');
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  if (origin === undefined) return true; // not a browser (curl, scripts): the token decides
  const host = header(request, 'host');
  return host !== undefined && originHost(origin)?.toLowerCase() === host.toLowerCase();
}

export class AdminGate {
  private readonly log: ThrottledLog;
  private readonly counts: Record<RefusalReason, number> = {
    method: 0,
    origin: 0,
    'content-type': 0,
    token: 0,
    disabled: 0,
  };

  /** `token` undefined: admin actions are disabled (no MON_ADMIN_TOKEN_FILE). */
  constructor(
    private readonly token: string | undefined,
    logger: Logger,
    now?: () => number,
  ) {
    this.log = new ThrottledLog(logger, { now });
  }

  get enabled(): boolean {
    return this.token !== undefined;
  }

  /** Refusals since start, by reason. */
  get refused(): Readonly<Record<RefusalReason, number>> {
    return this.counts;
  }

  /** Checks one action request; a refusal is counted and logged. */
  check(request: IncomingMessage): GateVerdict {
    const verdict = this.verdict(request);
    if (!verdict.ok) {
      this.counts[verdict.reason] += 1;
      const from = request.socket.remoteAddress ?? 'unknown';
      this.log.warn(`${verdict.reason} ${from}`, 'dashboard action refused', {
        reason: verdict.reason,
        from: escapeLogText(from, 60),
        method: escapeLogText(request.method ?? '', 16),
        path: escapeLogText(request.url ?? '', 80),
        origin: escapeLogText(header(request, 'origin') ?? '', 80),
      });
    }
    return verdict;
  }

  private verdict(request: IncomingMessage): GateVerdict {
    if (request.method !== 'POST') return { ok: false, status: 405, reason: 'method' };
    if (this.token === undefined) return { ok: false, status: 403, reason: 'disabled' };
    if (!sameOrigin(request)) return { ok: false, status: 403, reason: 'origin' };
    const type = header(request, 'content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type))
      return { ok: false, status: 415, reason: 'content-type' };
    const authorization = header(request, 'authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!tokenMatches(this.token, match?.[1])) return { ok: false, status: 401, reason: 'token' };
    return { ok: true };
  }
}
