import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@copilot/protocol';
import type { Logger } from '@copilot/base/logger';
import { silentLogger } from '@copilot/base/logger';
import { AdminGate, readAdminToken, sameOrigin, tokenMatches } from '@manager/monitor/admin-gate';

const TOKEN = 'k3Jd9s0Q-abcdefghijklmnopqrstuv';

function request(method: string, headers: Record<string, string>): IncomingMessage {
  const socket = new Socket();
  return { method, url: '/api/console/order', headers, socket } as unknown as IncomingMessage;
}

const good = {
  host: '127.0.0.1:8000',
  origin: 'http://127.0.0.1:8000',
  'content-type': 'application/json',
  authorization: `Bearer ${TOKEN}`,
};

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (message, fields) => lines.push(`${message} ${JSON.stringify(fields)}`),
    child: () => logger,
  };
  return { logger, lines };
}

describe('AdminGate', () => {
  it('lets a same-origin JSON POST with the token through', () => {
    const gate = new AdminGate(TOKEN, silentLogger);
    expect(gate.check(request('POST', good))).toEqual({ ok: true });
    // curl and scripts send no Origin: the token decides.
    const { origin: _origin, ...noOrigin } = good;
    expect(gate.check(request('POST', noOrigin))).toEqual({ ok: true });
  });

  it.each([
    ['GET', good, 405, 'method'],
    ['POST', { ...good, authorization: 'Bearer wrong-token-of-some-length-xx' }, 401, 'token'],
    ['POST', { ...good, authorization: `Bearer ${TOKEN}x` }, 401, 'token'],
    ['POST', { ...good, authorization: '' }, 401, 'token'],
    ['POST', { ...good, authorization: `Basic ${TOKEN}` }, 401, 'token'],
    ['POST', { ...good, origin: 'http://evil.example' }, 403, 'origin'],
    ['POST', { ...good, origin: 'null' }, 403, 'origin'],
    ['POST', { ...good, 'sec-fetch-site': 'cross-site' }, 403, 'origin'],
    ['POST', { ...good, 'content-type': 'text/plain' }, 415, 'content-type'],
    ['POST', { ...good, 'content-type': 'application/x-www-form-urlencoded' }, 415, 'content-type'],
  ] as const)(
    '%s %j is refused with %i (%s), counted and logged',
    (method, headers, status, reason) => {
      const { logger, lines } = recordingLogger();
      const gate = new AdminGate(TOKEN, logger);
      expect(gate.check(request(method, headers))).toEqual({ ok: false, status, reason });
      expect(gate.refused[reason]).toBe(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('dashboard action refused');
      expect(lines[0]).not.toContain(TOKEN);
    },
  );

  it('without a token every action is refused as disabled', () => {
    const gate = new AdminGate(undefined, silentLogger);
    expect(gate.enabled).toBe(false);
    expect(gate.check(request('POST', good))).toEqual({
      ok: false,
      status: 403,
      reason: 'disabled',
    });
  });

  it('refusals are logged at a bounded rate', () => {
    const { logger, lines } = recordingLogger();
    const gate = new AdminGate(TOKEN, logger, () => 0);
    for (let i = 0; i < 50; i += 1)
      gate.check(request('POST', { ...good, authorization: `Bearer guess-${i}` }));
    expect(gate.refused.token).toBe(50);
    expect(lines).toHaveLength(1);
  });
});

describe('tokenMatches and sameOrigin', () => {
  it('compares whole tokens of any length', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN, TOKEN.slice(0, -1))).toBe(false);
    expect(tokenMatches(TOKEN, undefined)).toBe(false);
    expect(tokenMatches(TOKEN, '')).toBe(false);
  });

  it('an Origin must name the Host; https behind a proxy with the same host passes', () => {
    expect(
      sameOrigin(request('POST', { host: 'mon.example.org', origin: 'https://mon.example.org' })),
    ).toBe(true);
    expect(
      sameOrigin(
        request('POST', { host: 'mon.example.org', origin: 'https://mon.example.org.evil.net' }),
      ),
    ).toBe(false);
    expect(sameOrigin(request('POST', { origin: 'https://mon.example.org' }))).toBe(false);
    expect(sameOrigin(request('POST', { host: 'a', origin: 'file://a' }))).toBe(false);
  });
});

describe('readAdminToken', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const write = (text: string, mode = 0o600): string => {
    dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'admin-token-'));
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, text, { mode });
    fs.chmodSync(file, mode);
    return file;
  };

  it('reads the first line, trimmed', () => {
    expect(readAdminToken(write(`  ${TOKEN}  \nsecond line\n`))).toBe(TOKEN);
  });

  it('refuses a short token, one with spaces, and a missing file', () => {
    expect(() => readAdminToken(write('short'))).toThrow(ConfigError);
    expect(() => readAdminToken(write('abcdefghijkl mnopqrstuvwxyz'))).toThrow(/at least 24/);
    expect(() => readAdminToken('/nonexistent/token')).toThrow(/cannot read.*ENOENT/);
  });

  it('warns when other users can read the file', () => {
    const { logger, lines } = recordingLogger();
    readAdminToken(write(TOKEN, 0o644), logger);
    expect(lines.join('\n')).toMatch(/chmod 600/);
  });
});
