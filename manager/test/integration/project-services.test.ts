/**
 * "Run a project" as the README gives it, with the built programs (npm run build:bins) and the
 * files `copilot-manager init` writes, against a real Prosody and dockerd:
 *
 *   copilot-manager init → the Prosody snippet included and loaded → prosody-accounts.sh →
 *   the job manager started from packaging/systemd/copilot-jobmanager.service (its ExecStart,
 *   EnvironmentFile and LoadCredential, with /etc/copilot and /usr/local/bin mapped to this
 *   test's directories) → copilot-attach-link → a volunteer's agent started from
 *   copilot-agent.service's ExecStart with --attach → copilot-job-submit --wait prints 4.
 *
 * What it does not do: run systemd itself (PID 1 here is not systemd), so the units' User=,
 * DynamicUser=, sandboxing and %d credentials are mapped, not applied (systemd-units.test.ts
 * checks the unit files with systemd-analyze).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  ensureDocker,
  freePort,
  runCommand,
  startProcess,
  startProsody,
  type ProsodyServer,
  type ServiceProcess,
} from '@test/harness';
import { ensureJobImage } from '@test/harness/docker';
import { chownTree, generateCertificate, lookupUnixUser } from '@test/harness/prosody';

const DOMAIN = 'copilot.localhost';
const UNITS = path.join(REPO_ROOT, 'packaging', 'systemd');
const BIN = path.join(REPO_ROOT, 'dist', 'bin');

let prosody: ProsodyServer;
let tmp: string;
let etc: string;
const services: ServiceProcess[] = [];

/** The [Service] settings of a unit file (repeated keys kept in order). */
function unitSettings(unit: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of fs.readFileSync(path.join(UNITS, unit), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) section = line;
    else if (section === '[Service]' && /^[A-Za-z]+=/.test(line)) {
      const key = line.slice(0, line.indexOf('='));
      settings.set(key, [...(settings.get(key) ?? []), line.slice(key.length + 1)]);
    }
  }
  return settings;
}

/** An EnvironmentFile as systemd reads it: KEY=VALUE, double quotes with backslash escapes. */
function environmentFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match?.[1]) continue;
    const value = match[2] ?? '';
    const quoted = /^"(.*)"$/.exec(value);
    env[match[1]] = quoted ? (quoted[1] ?? '').replace(/\\(.)/g, '$1') : value;
  }
  return env;
}

/** Our stand-in for the unit's paths: /etc/copilot, /usr/local/bin/X and %d. */
function mapPath(text: string, credentials: string): string {
  return text
    .replaceAll('/etc/copilot/', `${etc}/`)
    .replaceAll('%d/', `${credentials}/`)
    .replace(/^\/usr\/local\/bin\/(\S+)$/, (_, bin: string) => path.join(BIN, `${bin}.js`));
}

/** The command line, environment and credentials the unit would give the program. */
function fromUnit(unit: string, name: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const settings = unitSettings(unit);
  const credentials = fs.mkdtempSync(path.join(tmp, `${name}-credentials-`));
  for (const credential of settings.get('LoadCredential') ?? []) {
    const [id = '', source = ''] = credential.split(':');
    fs.copyFileSync(mapPath(source, credentials), path.join(credentials, id), 0);
  }
  let env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmp };
  for (const file of settings.get('EnvironmentFile') ?? []) {
    const optional = file.startsWith('-');
    const mapped = mapPath(file.replace(/^-/, ''), credentials);
    if (optional && !fs.existsSync(mapped)) continue;
    env = { ...env, ...environmentFile(mapped) };
  }
  const execStart = settings.get('ExecStart')?.[0] ?? '';
  return { args: execStart.split(/\s+/).map((word) => mapPath(word, credentials)), env };
}

function startFromUnit(
  unit: string,
  name: string,
  extra: { args?: string[]; env?: NodeJS.ProcessEnv; ready: string },
): Promise<ServiceProcess> {
  const { args, env } = fromUnit(unit, name);
  return startProcess({
    name,
    command: process.execPath,
    args: [...args, ...(extra.args ?? [])],
    env: { ...env, ...extra.env },
    cwd: tmp,
    readyTimeoutMs: 60_000,
    ready: async (proc, signal) => {
      while (!proc.logTail(200).includes(extra.ready)) {
        if (signal.aborted) throw new Error('aborted');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  });
}

/** prosodyctl for this server, as Prosody's own user when we are root. */
function prosodyctl(): string {
  const user = process.getuid?.() === 0 ? lookupUnixUser('prosody') : undefined;
  const asUser = user ? `setpriv --reuid=${user.uid} --regid=${user.gid} --init-groups -- ` : '';
  return `${asUser}prosodyctl --config ${prosody.configPath}`;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-project-'));
  fs.chmodSync(tmp, 0o755);
  etc = path.join(tmp, 'etc');
  await runCommand(process.execPath, [path.join(REPO_ROOT, 'scripts/build-bins.mjs')], {
    cwd: REPO_ROOT,
    timeoutMs: 120_000,
  });
  await ensureJobImage(await ensureDocker());
  // invites: the harness's global modules_disabled then leaves register_ibr, as a stock config does.
  prosody = await startProsody({ tls: true, invites: true });
}, 600_000);

afterAll(async () => {
  for (const service of services.reverse()) await service.stop();
  await prosody?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a project from copilot-manager init to a volunteer running its job', () => {
  it('starts the manager from its unit with the init files, attaches an agent and runs a job', async () => {
    const certDir = path.join(tmp, 'prosody-certs');
    fs.mkdirSync(path.join(certDir, 'certs'), { recursive: true });
    const cert = await generateCertificate(certDir, DOMAIN, [`conference.${DOMAIN}`]);
    const runAs = process.getuid?.() === 0 ? lookupUnixUser('prosody') : undefined;
    chownTree(certDir, runAs);
    const storagePort = await freePort();
    const init = await runCommand(process.execPath, [
      path.join(BIN, 'copilot-manager.js'),
      'init',
      '--name',
      'Services test',
      '--domain',
      DOMAIN,
      '--xmpp-server',
      `127.0.0.1:${prosody.port}`,
      '--dir',
      etc,
      '--state-dir',
      path.join(tmp, 'state'),
      '--storage-url',
      `http://127.0.0.1:${storagePort}`,
      '--storage-port',
      String(storagePort),
      '--ca',
      cert.certPath,
      '--tls-cert',
      cert.certPath,
      '--tls-key',
      cert.keyPath,
    ]);
    expect(init.stdout).toContain('prosody-copilot.cfg.lua (0644)');

    // The admin's step 1: Prosody includes the snippet and is reloaded; the accounts script.
    const snippet = path.join(etc, 'prosody-copilot.cfg.lua');
    fs.appendFileSync(prosody.configPath, `\nInclude ${JSON.stringify(snippet)}\n`);
    await prosody.restart();
    await runCommand('sh', [path.join(etc, 'prosody-accounts.sh')], {
      env: { ...process.env, PROSODYCTL: prosodyctl() },
      timeoutMs: 60_000,
    });

    // Step 2: the manager service, as copilot-jobmanager.service starts it.
    services.push(
      await startFromUnit('copilot-jobmanager.service', 'unit-jobmanager', {
        ready: 'job manager started',
      }),
    );

    // Step 4: the attach link; the volunteer's agent as copilot-agent.service runs it.
    const agentConf = path.join(etc, 'copilot-agent.conf');
    fs.copyFileSync(path.join(REPO_ROOT, 'packaging/etc/copilot-agent.conf'), agentConf);
    fs.writeFileSync(
      path.join(etc, 'copilot-agent.env'),
      `AGENT_GUI_RPC_PORT=${await freePort()}\nAGENT_MEMORY_LIMIT_MB=256\n`,
    );
    const made = await runCommand(
      process.execPath,
      [
        path.join(BIN, 'copilot-attach-link.js'),
        '--config',
        path.join(etc, 'copilot-jobmanager-generic.conf'),
        '--name',
        'Services test',
        '--admins',
        `fleet-console@${DOMAIN}`,
        '--prosody-config',
        prosody.configPath,
        ...(runAs ? ['--prosodyctl-user', 'prosody'] : []),
      ],
      { timeoutMs: 60_000 },
    );
    const link = made.stdout.trim();
    expect(link).toMatch(/^copilot:\/\/attach\?v=1&/);
    const agentDir = path.join(tmp, 'agent');
    fs.mkdirSync(agentDir);
    const agent = await startFromUnit('copilot-agent.service', 'unit-agent', {
      args: ['--attach', link, `--AGENT_WORK_DIR=${agentDir}`],
      ready: 'attached to Services test',
    });
    services.push(agent);

    // Step 3: a job, submitted with the manager's config; the agent runs it in Docker.
    const submitted = await runCommand(
      process.execPath,
      [
        path.join(BIN, 'copilot-job-submit.js'),
        '--config',
        path.join(etc, 'copilot-jobmanager-generic.conf'),
        `--command=${path.join(REPO_ROOT, 'examples/calculator.sh')}`,
        '--wait',
        '--timeout',
        '150',
      ],
      { timeoutMs: 170_000 },
    );
    expect(submitted.stdout).toMatch(/^state done$/m);
    expect(submitted.stdout).toMatch(/^exitCode 0$/m);
    expect(submitted.stdout.trim().endsWith('4')).toBe(true);
    const project = fs.readFileSync(path.join(agentDir, 'project.conf'), 'utf8');
    expect(project).toMatch(/AGENT_SECURE_MODE\s+1/);
    expect(fs.statSync(path.join(agentDir, 'project.conf')).mode & 0o777).toBe(0o600);
  }, 400_000);
});
