/**
 * packaging/systemd/*.service checked by systemd's own tools (the systemd package; PID 1 here is
 * not systemd, so nothing is started): `systemd-analyze verify` in a root holding the system's
 * units and stand-ins for the programs, and `systemd-analyze security --offline` for the
 * hardening. manager/test/integration/project-services.test.ts runs the programs the way the
 * units' ExecStart, EnvironmentFile and LoadCredential give them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@test/harness';

const UNITS = ['copilot-agent.service', 'copilot-jobmanager.service', 'copilot-monitor.service'];
const BINS = ['copilot-agent', 'copilot-jobmanager-generic', 'copilot-monitor'];
let root: string;

function analyze(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

function installUnits(dir: string, edit: (text: string) => string = (text) => text): void {
  const target = path.join(dir, 'etc/systemd/system');
  fs.mkdirSync(target, { recursive: true });
  for (const unit of UNITS) {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'packaging/systemd', unit), 'utf8');
    fs.writeFileSync(path.join(target, unit), edit(text));
  }
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-units-'));
  fs.mkdirSync(path.join(root, 'lib/systemd'), { recursive: true });
  fs.cpSync('/lib/systemd/system', path.join(root, 'lib/systemd/system'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
  for (const bin of BINS) {
    fs.writeFileSync(path.join(root, 'usr/local/bin', bin), '#!/bin/sh\n', { mode: 0o755 });
  }
  installUnits(root);
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** Lines systemd-analyze says about our units (the host's own units may warn too). */
function aboutOurs(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => UNITS.some((unit) => line.includes(unit.replace('.service', ''))));
}

describe('the systemd units', () => {
  it.each(UNITS)('%s passes systemd-analyze verify without a warning', async (unit) => {
    const result = await analyze(['verify', `--root=${root}`, unit]);
    expect({ code: result.code, ours: aboutOurs(result.output) }).toEqual({ code: 0, ours: [] });
  });

  it('verify does see a mistake (a misspelt key, a missing program)', async () => {
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-units-broken-'));
    try {
      fs.cpSync(root, broken, { recursive: true });
      installUnits(broken, (text) => text.replace('NoNewPrivileges=', 'NoNewPrivilege='));
      fs.rmSync(path.join(broken, 'usr/local/bin/copilot-monitor'));
      const misspelt = await analyze(['verify', `--root=${broken}`, 'copilot-agent.service']);
      expect(aboutOurs(misspelt.output).join('\n')).toMatch(/Unknown key 'NoNewPrivilege'/);
      const missing = await analyze(['verify', `--root=${broken}`, 'copilot-monitor.service']);
      expect(missing.code).not.toBe(0);
    } finally {
      fs.rmSync(broken, { recursive: true, force: true });
    }
  });

  it.each(UNITS)(
    '%s is rated OK (exposure below 2.5) by systemd-analyze security',
    async (unit) => {
      const result = await analyze(['security', '--offline=yes', `--root=${root}`, unit]);
      const exposure = /Overall exposure level for \S+: ([\d.]+)/.exec(result.output)?.[1];
      expect(exposure).toBeDefined();
      expect(Number(exposure)).toBeLessThan(2.5);
    },
  );

  it('runs each service unprivileged with the hardening the README promises', () => {
    for (const unit of UNITS) {
      const text = fs.readFileSync(path.join(REPO_ROOT, 'packaging/systemd', unit), 'utf8');
      for (const setting of [
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'NoNewPrivileges=yes',
        'PrivateTmp=yes',
        'CapabilityBoundingSet=\n',
        'Restart=on-failure',
      ]) {
        expect({ unit, setting, present: text.includes(setting) }).toMatchObject({ present: true });
      }
      expect(text).toMatch(/^(User=copilot|DynamicUser=yes)$/m);
      expect(text).toMatch(/^StateDirectory=copilot-/m);
      expect(text).toMatch(/^EnvironmentFile=-?\/etc\/copilot\//m);
    }
  });
});
