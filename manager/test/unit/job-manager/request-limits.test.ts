import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@copilot/base/logger';
import { BannedAccounts, parseBanFile, RequestCooldown } from '@manager/job-manager/request-limits';

describe('RequestCooldown', () => {
  it('serves an account once per cooldown and says how many seconds are left', () => {
    let now = 0;
    const cooldown = new RequestCooldown({ cooldownMs: 60_000, now: () => now });
    expect(cooldown.check('a@x/1')).toEqual({ serve: true });
    now = 500;
    expect(cooldown.check('A@X/2')).toEqual({ serve: false, secondsLeft: 60 });
    now = 59_999;
    expect(cooldown.check('a@x/1')).toEqual({ serve: false, secondsLeft: 1 });
    // Refusals did not move the start: at 60 s it is served again.
    now = 60_000;
    expect(cooldown.check('a@x/1')).toEqual({ serve: true });
  });

  it('is off at 0 and remembers a bounded number of accounts', () => {
    const off = new RequestCooldown({ cooldownMs: 0 });
    expect(off.check('a@x')).toEqual({ serve: true });
    expect(off.check('a@x')).toEqual({ serve: true });
    let now = 0;
    const bounded = new RequestCooldown({ cooldownMs: 1000, maxAccounts: 10, now: () => now });
    for (let index = 0; index < 100; index += 1) bounded.check(`a${index}@x`);
    expect(bounded.size).toBeLessThanOrEqual(11);
    now = 5000;
    bounded.check('late@x');
    expect(bounded.size).toBe(1);
  });
});

describe('ban file', () => {
  it('reads accounts and domains, one a line, with comments', () => {
    const entries = parseBanFile(
      '# bans\nEvil@Example.org/res\n*@spam.net\nbad.org  # whole domain\n\n',
    );
    expect([...entries.accounts]).toEqual(['evil@example.org']);
    expect([...entries.domains].sort()).toEqual(['bad.org', 'spam.net']);
  });

  it('is re-read when it changes, at most once per interval, and a missing file bans nobody', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bans-'));
    const file = path.join(dir, 'banned');
    let now = 0;
    const bans = new BannedAccounts({ file, logger: silentLogger, now: () => now });
    expect(await bans.isBanned('a@x/1')).toBe(false);
    fs.writeFileSync(file, 'a@x\n*@spam.net\n');
    expect(await bans.isBanned('a@x/1')).toBe(false); // not looked at again yet
    now = 1000;
    expect(await bans.isBanned('A@X/1')).toBe(true);
    expect(await bans.isBanned('anyone@spam.net/r')).toBe(true);
    expect(await bans.isBanned('b@x/1')).toBe(false);
    fs.writeFileSync(file, 'b@x\n# a is forgiven, and a longer line so the size changes\n');
    now = 2000;
    expect(await bans.isBanned('a@x/1')).toBe(false);
    expect(await bans.isBanned('b@x/1')).toBe(true);
    fs.rmSync(dir, { recursive: true });
    now = 3000;
    expect(await bans.isBanned('b@x/1')).toBe(false);
  });
});
