// The README's run command: `npm run demo` brings up Prosody, the job manager and a headless
// agent, runs the report's calculator.sh in Docker, and shows 4 and the Heartbeat table.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCommand } from '@test/harness';

describe('npm run demo', () => {
  it('runs calculator.sh through manager and agent and prints 4 and the fleet load', async () => {
    const { stdout } = await runCommand(
      join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/demo.ts'],
      {
        cwd: REPO_ROOT,
        timeoutMs: 240_000,
      },
    );
    expect(stdout).toMatch(/^state done$/m);
    expect(stdout).toMatch(/^exitCode 0$/m);
    expect(stdout).toMatch(/^4$/m);
    expect(stdout).toMatch(/cat \S+\/stdout -> 4$/m);
    expect(stdout).toMatch(/\.tgz stderr stdout$/m);
    expect(stdout).toMatch(/^Room nick\s+1min\s+5min\s+15min$/m);
    expect(stdout).toMatch(/^alpha\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
    expect(stdout).toMatch(/^agent-\S+\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
  }, 260_000);
});
