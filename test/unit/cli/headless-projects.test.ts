import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addStoredProject, headlessFirstProject } from '@copilot/cli/headless-projects';
import { writeProjectFile } from '@copilot/cli/attached-project';
import { fileProjectStore } from '@copilot/core/project-store';

let workDir: string;
beforeEach(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'headless-projects-'));
});
afterEach(() => fs.rmSync(workDir, { recursive: true, force: true }));

describe('headless projects', () => {
  it('adds a project beside the first one in projects.json (0600), with its password', () => {
    const id = addStoredProject(workDir, {
      projectName: 'Second',
      jobManagerAddress: 'jm@two.example',
      xmppPassword: 'pw-2',
      cpuLimitPercent: 10,
    });
    expect(id).toMatch(/^[0-9a-f]{8}$/);
    const records = fileProjectStore(workDir).load();
    expect(records.map((r) => r.id)).toEqual(['main', id]);
    // Only the project's own settings: the computing preferences stay the volunteer's.
    expect(records[1]?.settings).toEqual({
      projectName: 'Second',
      jobManagerAddress: 'jm@two.example',
      xmppPassword: 'pw-2',
    });
    expect(fs.statSync(path.join(workDir, 'projects.json')).mode & 0o777).toBe(0o600);
  });

  it('lets an attached first project go with its files, and refuses one the config file sets', async () => {
    const first = headlessFirstProject(workDir, '/etc/copilot/agent.conf');
    expect(first.refusal?.()).toMatch(/set in \/etc\/copilot\/agent\.conf/);
    writeProjectFile(workDir, {
      projectName: 'P',
      jobManagerAddress: 'jm@one.example',
      xmppCaCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    });
    expect(first.refusal?.()).toBeNull();
    await first.forget?.();
    expect(fs.readdirSync(workDir)).toEqual([]);
  });
});
