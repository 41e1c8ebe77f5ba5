/** Shared set-up of the manager integration tests: config for a harness Prosody, a monitor. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigValues, type CommandMessage } from '@copilot/protocol';
import { CopilotSession } from '@copilot/transport';
import type { ProsodyServer } from '@test/harness';
import { configFromValues, type JobManagerConfig } from '@manager/job-manager/manager-config';

export const PASSWORD = 'secret-pw';
export const REPO_CALCULATOR = path.resolve(import.meta.dirname, '../../../examples/calculator.sh');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A config built the way the CLI builds it: variables through ConfigValues. */
export function managerConfig(
  prosody: ProsodyServer,
  username: string,
  stateDir: string,
  extra: Record<string, string> = {},
): JobManagerConfig {
  const variables = new Map<string, string>([
    ['JM_JABBER_SERVER', `127.0.0.1:${prosody.port}`],
    ['JM_JABBER_DOMAIN', prosody.domain],
    ['JM_JABBER_ID', username],
    ['JM_JABBER_PASSWORD', PASSWORD],
    ['JM_JABBER_RESOURCE', username],
    ['JM_STATE_DIR', stateDir],
    ['JM_STORAGE_PORT', '0'],
    ['JM_STORAGE_BIND', '127.0.0.1'],
    ...Object.entries(extra),
  ]);
  return configFromValues(ConfigValues.from({ file: variables }));
}

/** A Monitor stand-in: records every reportEvent / reportEventValue it receives. */
export class MonitorListener {
  readonly session: CopilotSession;
  readonly messages: CommandMessage[] = [];

  constructor(prosody: ProsodyServer, username: string) {
    this.session = new CopilotSession({
      service: prosody.service,
      domain: prosody.domain,
      username,
      password: PASSWORD,
      resource: 'mon',
    });
    this.session.onCommand((message) => {
      this.messages.push(message);
    });
  }

  events(): string[] {
    return this.messages.flatMap((message) =>
      message.command.command === 'reportEvent' ? [message.command.event] : [],
    );
  }

  values(event: string): number[] {
    return this.messages.flatMap((message) =>
      message.command.command === 'reportEventValue' && message.command.event === event
        ? [message.command.value]
        : [],
    );
  }

  async waitForEvent(event: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.events().includes(event)) {
      if (Date.now() > deadline)
        throw new Error(
          `monitor: no ${event} within ${timeoutMs} ms (got ${this.events().join(', ')})`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Polls until `check` returns a value that is not undefined. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Extracts `<done>/<id>/<id>.tgz` in `<done>/<id>` with the system tar, as listing 4.23 does. */
export async function extractDoneArchive(doneJobDir: string, jobId: string): Promise<string> {
  const dir = path.join(doneJobDir, jobId);
  const { stdout } = await promisify(execFile)('tar', ['xzvf', `${jobId}.tgz`], { cwd: dir });
  return stdout;
}
