/**
 * The headless agent's attached project: what `copilot-agent --attach` (or the first-run screen
 * over the GUI RPC) wrote into AGENT_WORK_DIR. `project.conf` holds the project's variables in
 * the config file's own format, the generated XMPP password among them, so it is the headless
 * agent's secret file (mode 0600, like the config file an admin writes); the pinned CA and the
 * manager's key sit beside it as PEM files. loadAgentConfig layers it over the config file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentSettings } from '../contract/ui-contract';
import { parseConfigText } from '../protocol/config-file';
import { writeFileAtomic } from '../base/write-atomic';

export const PROJECT_FILE = 'project.conf';
const CA_FILE = 'project-ca.pem';
const KEY_FILE = 'project-manager-key.pem';

export function projectFilePath(workDir: string): string {
  return path.join(workDir, PROJECT_FILE);
}

/** The variables of the attached project, or undefined when none is attached. */
export function readProjectFile(workDir: string): Map<string, string> | undefined {
  const file = projectFilePath(workDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseConfigText(text, file);
}

/** One line's value: a config line ends at the line break, so none may be in it. */
function line(name: string, value: string | boolean): string {
  const text = typeof value === 'boolean' ? (value ? '1' : '0') : value;
  if (/[\r\n]/.test(text)) throw new Error(`${name} has a line break`);
  return `${name} ${text}`;
}

/** Writes project.conf (0600) and its PEM files from an attach's settings. */
export function writeProjectFile(workDir: string, settings: Partial<AgentSettings>): void {
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const lines = [
    '# Written by copilot-agent --attach: the attached project. Holds the account password.',
    line('PROJECT_NAME', settings.projectName ?? ''),
    line('JM_JABBER_ADDRESS', settings.jobManagerAddress ?? ''),
    line('AGENT_JABBER_SERVER', settings.xmppServer ?? ''),
    line('AGENT_JABBER_DOMAIN', settings.xmppDomain ?? ''),
    line('AGENT_JABBER_ID', settings.xmppUsername ?? ''),
    line('AGENT_JABBER_PASSWORD', settings.xmppPassword ?? ''),
    line('AGENT_REQUIRE_TLS', settings.requireTls ?? true),
    line('AGENT_SECURE_MODE', settings.secureMode ?? false),
  ];
  if (settings.allowedImageRegistries) {
    lines.push(line('AGENT_ALLOWED_IMAGE_REGISTRIES', settings.allowedImageRegistries));
  }
  if (settings.adminAccounts) lines.push(line('AGENT_ADMIN_JIDS', settings.adminAccounts));
  // The project's Monitor from the link; without one, the config file's (if any) applies.
  if (settings.monitorAddress) lines.push(line('AGENT_MONITOR_ADDRESS', settings.monitorAddress));
  if (settings.xmppCaCertificate) {
    const file = path.join(workDir, CA_FILE);
    writeFileAtomic(file, `${settings.xmppCaCertificate.trim()}\n`, 0o600);
    lines.push(line('AGENT_JABBER_CA_FILE', file));
  }
  if (settings.jobManagerPublicKey) {
    const file = path.join(workDir, KEY_FILE);
    writeFileAtomic(file, `${settings.jobManagerPublicKey.trim()}\n`, 0o600);
    lines.push(line('JM_PUBLIC_KEY', file));
  }
  writeFileAtomic(projectFilePath(workDir), `${lines.join('\n')}\n`, 0o600);
}
