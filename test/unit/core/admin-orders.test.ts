import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_ORDER_FILE,
  AdminOrders,
  attachAdminOrders,
  cleanReason,
  isAdminAddress,
  MAX_REASON_CHARS,
} from '@copilot/core/admin-orders';
import { ResourcePolicy } from '@copilot/core/resource-policy';
import { DEFAULT_SETTINGS } from '@copilot/contract/settings';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import { FakeChannel, JM, managerExchange } from './fakes';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'admin-orders-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function orders(log: LogRecord[] = [], onChange = (): void => undefined): AdminOrders {
  return new AdminOrders({
    dataDir: dir,
    logger: createLogger('admin', (record) => log.push(record)),
    onChange,
    now: () => Date.parse('2026-11-24T10:00:00Z'),
  });
}

describe('admin accounts and reasons', () => {
  it('a bare JID stands for every resource, a full JID for its own; accounts ignore case', () => {
    expect(isAdminAddress('admin@localhost/console', ['admin@localhost'])).toBe(true);
    expect(isAdminAddress('Admin@LocalHost/x', ['admin@localhost'])).toBe(true);
    expect(isAdminAddress('admin@localhost/console', ['admin@localhost/console'])).toBe(true);
    expect(isAdminAddress('admin@localhost/other', ['admin@localhost/console'])).toBe(false);
    expect(isAdminAddress('admin@localhost.evil/x', ['admin@localhost'])).toBe(false);
    expect(isAdminAddress('eve@localhost/x', ['admin@localhost'])).toBe(false);
    expect(isAdminAddress('admin@localhost/x', [])).toBe(false);
  });

  it('a reason is one line of at most MAX_REASON_CHARS; empty is none', () => {
    expect(cleanReason(undefined)).toBeNull();
    expect(cleanReason('  \n ')).toBeNull();
    expect(cleanReason('disk\nfull\u0000\u202e now')).toBe('disk full now');
    const long = cleanReason('x'.repeat(1000)) ?? '';
    expect(long).toHaveLength(MAX_REASON_CHARS);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('AdminOrders', () => {
  it('keeps a drain on disk and reads it back; resume removes it', () => {
    let changes = 0;
    const first = orders([], () => (changes += 1));
    expect(first.take('admin@localhost/console', 'drain', 'update')).toBe('taken');
    expect(first.current).toEqual({
      order: 'drain',
      by: 'admin@localhost',
      reason: 'update',
      since: '2026-11-24T10:00:00.000Z',
    });
    expect(first.allowsNewWork).toBe(false);
    expect(first.decision()).toBeNull();
    expect(first.take('admin@localhost/console', 'drain', 'update')).toBe('unchanged');
    expect(changes).toBe(1);
    expect(orders().current?.order).toBe('drain');
    expect(first.take('admin@localhost/console', 'resume')).toBe('taken');
    expect(fs.existsSync(path.join(dir, ADMIN_ORDER_FILE))).toBe(false);
    expect(orders().current).toBeNull();
    expect(first.take('admin@localhost/console', 'resume')).toBe('unchanged');
  });

  it('a pause is a hold on the policy, after the volunteer’s own decision', () => {
    const policy = new ResourcePolicy({ ...DEFAULT_SETTINGS, runOnlyWhenIdle: false });
    const exchange = managerExchange(new FakeChannel(() => []), [JM]);
    const admin = attachAdminOrders({
      dataDir: dir,
      logger: createLogger('admin', () => undefined),
      policy,
      exchange,
      onChange: () => undefined,
    });
    expect(policy.decide(Date.now()).run).toBe(true);
    admin.take('admin@localhost', 'pause');
    expect(policy.decide(Date.now())).toEqual({
      run: false,
      reason: 'paused',
      detail: 'paused by the project admin',
    });
    policy.update({ ...DEFAULT_SETTINGS, runOnlyWhenIdle: false, paused: true });
    expect(policy.decide(Date.now())).toEqual({ run: false, reason: 'paused' });
    admin.take('admin@localhost', 'resume');
    expect(policy.decide(Date.now())).toEqual({ run: false, reason: 'paused' });
  });

  it('an unreadable file is ignored with a warning, and a reason read back is cleaned', () => {
    const file = path.join(dir, ADMIN_ORDER_FILE);
    fs.writeFileSync(file, '{"order":"drain"');
    const log: LogRecord[] = [];
    expect(orders(log).current).toBeNull();
    expect(log.map((record) => record.message)).toEqual(['unreadable admin order file ignored']);
    fs.writeFileSync(
      file,
      JSON.stringify({ order: 'pause', by: 'a@b', reason: 'x\ny', since: '2026-01-01' }),
    );
    expect(orders().current).toMatchObject({ order: 'pause', reason: 'x y' });
    fs.writeFileSync(file, JSON.stringify({ order: 'halt', by: 'a@b', reason: null, since: '' }));
    expect(orders().current).toBeNull();
  });
});
