/**
 * npm run demo [-- --keep]
 *
 * Co-Pilot on embedded defaults, on this machine only: a private Prosody on a free loopback
 * port (TLS with its own CA, invite-only in-band registration), the Generic Job and Storage
 * Manager in secure mode (SQLite queue, HTTP storage), and a headless agent running jobs in
 * Docker. The agent joins the way a volunteer does: copilot-attach-link makes an attach link
 * (a .copilot file) with an invite, and `copilot-agent --attach FILE` creates its own account,
 * pins the CA and takes the manager's key from it. It submits the report's calculator.sh
 * (listing 4.21) with copilot-job-submit --wait and shows the result as in listing 4.23. With
 * --keep, everything stays up and the agent's UI is served in the browser until Ctrl-C.
 *
 * Prosody is started with the same launcher the tests use (test/harness); the manager, the
 * agent and the submit tool are the real command-line programs.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO_ROOT,
  ensureDocker,
  ensureJobImage,
  freePort,
  runCommand,
  startProcess,
  startProsody,
  type ServiceProcess,
} from '@test/harness';

const PASSWORD = 'demo-password';
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

function say(text: string): void {
  process.stdout.write(`[demo] ${text}\n`);
}

function configFile(path: string, values: Record<string, string | number>): string {
  const lines = Object.entries(values).map(([name, value]) => `${name.padEnd(24)} ${value}`);
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  return path;
}

/** The manager's RSA key pair for secure mode; the attach link carries the public half. */
function managerKey(dir: string): string {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, 'jm-private.pem');
  writeFileSync(file, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      if (Date.now() > deadline) throw new Error(`${path} did not appear in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function main(): Promise<number> {
  const keep = process.argv.includes('--keep');
  const dir = mkdtempSync(join(tmpdir(), 'copilot-demo-'));
  const services: ServiceProcess[] = [];
  say(`working in ${dir}`);

  say('checking Docker and the job image copilot-job:latest');
  const docker = await ensureDocker();
  await ensureJobImage(docker);

  // The volunteer's agent has no account here: it makes its own with the attach link's invite.
  const prosody = await startProsody({
    tls: true,
    invites: true,
    users: ['jm', 'heartbeat'].map((username) => ({ username, password: PASSWORD })),
  });
  const caFile = prosody.caCertPath ?? '';
  say(`XMPP server (Prosody) on ${prosody.service}, MUC ${prosody.mucDomain}`);

  try {
    const shared = { HB_CHAT_SERVER: prosody.mucDomain, HB_CHAT_ROOM: 'pilots-lounge' };
    const managerConf = configFile(join(dir, 'copilot-jobmanager-generic.conf'), {
      JM_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
      JM_JABBER_DOMAIN: prosody.domain,
      JM_JABBER_ID: 'jm',
      JM_JABBER_PASSWORD: PASSWORD,
      JM_JABBER_RESOURCE: 'alpha',
      JM_STATE_DIR: join(dir, 'manager'),
      JM_DONE_JOB_DIR: join(dir, 'manager', 'done'),
      JM_STORAGE_PORT: await freePort(),
      JM_STORAGE_BIND: '127.0.0.1',
      JM_JABBER_CA_FILE: caFile,
      JM_REQUIRE_TLS: 1,
      JM_SECURE_MODE: 1,
      JM_PRIVATE_KEY: managerKey(dir),
      ...shared,
    });
    const agentDir = join(dir, 'agent');
    mkdirSync(agentDir, { recursive: true });
    // No project, no account: those come from the attach link.
    const agentConf = configFile(join(dir, 'copilot-agent.conf'), {
      AGENT_WORK_DIR: agentDir,
      AGENT_GUI_RPC_PORT: await freePort(),
      ...shared,
    });

    services.push(
      await startProcess({
        name: 'demo-jobmanager',
        command: TSX,
        args: ['manager/bin/copilot-jobmanager-generic.ts', '--config', managerConf],
        cwd: REPO_ROOT,
      }),
    );
    say('job manager started (copilot-jobmanager-generic, secure mode, TLS)');

    const linkFile = join(dir, 'demo.copilot');
    say(`copilot-attach-link --name "Co-Pilot demo" --out ${linkFile}`);
    const made = await runCommand(
      TSX,
      [
        'manager/bin/copilot-attach-link.ts',
        '--config',
        managerConf,
        '--name',
        'Co-Pilot demo',
        '--prosody-config',
        prosody.configPath,
        ...(process.getuid?.() === 0 ? ['--prosodyctl-user', 'prosody'] : []),
        '--out',
        linkFile,
      ],
      { cwd: REPO_ROOT, timeoutMs: 60_000 },
    );
    say(`attach link: ${made.stdout.trim().slice(0, 100)}…`);
    services.push(
      await startProcess({
        name: 'demo-agent',
        command: TSX,
        args: ['src/cli/copilot-agent.ts', '--config', agentConf, '--attach', linkFile],
        cwd: REPO_ROOT,
      }),
    );
    say('agent started (copilot-agent --attach demo.copilot: its own account, pinned CA)');

    say('copilot-job-submit --command=examples/calculator.sh --wait');
    const submitted = await runCommand(
      TSX,
      [
        'manager/bin/copilot-job-submit.ts',
        '--config',
        managerConf,
        '--command=examples/calculator.sh',
        '--wait',
        '--timeout',
        '180',
      ],
      { cwd: REPO_ROOT, timeoutMs: 200_000 },
    );
    process.stdout.write(submitted.stdout);

    const jobId = submitted.stdout.split('\n')[0]?.trim() ?? '';
    const doneDir = join(dir, 'manager', 'done', jobId);
    say(`results in ${doneDir}: ${readdirSync(doneDir).join(' ')}`);
    say(`cat ${jobId}/stdout -> ${readFileSync(join(doneDir, 'stdout'), 'utf8').trim()}`);

    const heartbeatConf = configFile(join(dir, 'copilot-heartbeat.conf'), {
      HB_JABBER_SERVER: `127.0.0.1:${prosody.port}`,
      HB_JABBER_DOMAIN: prosody.domain,
      HB_JABBER_ID: 'heartbeat',
      HB_JABBER_PASSWORD: PASSWORD,
      ...shared,
    });
    say('copilot-heartbeat systemLoad (everyone in the Heartbeat room)');
    // copilot-heartbeat takes no CA variable: Node trusts the demo CA from NODE_EXTRA_CA_CERTS.
    const heartbeat = await runCommand(
      TSX,
      ['manager/bin/copilot-heartbeat.ts', '--config', heartbeatConf, '--timeout=5', 'systemLoad'],
      { cwd: REPO_ROOT, timeoutMs: 30_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile } },
    );
    process.stdout.write(heartbeat.stdout);

    if (keep) {
      const token = await waitForFile(join(agentDir, 'gui-rpc-token'), 10_000);
      const port = readFileSync(agentConf, 'utf8').match(/AGENT_GUI_RPC_PORT\s+(\d+)/)?.[1];
      say(`agent UI: http://127.0.0.1:${port}/#token=${token} (needs npm run build:renderer)`);
      say(
        `submit more: npx tsx manager/bin/copilot-job-submit.ts --config ${managerConf} --command=FILE`,
      );
      say('press Ctrl-C to stop');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return 0;
  } finally {
    for (const service of services.reverse()) await service.stop();
    await prosody.stop();
    say('stopped');
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `[demo] failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
