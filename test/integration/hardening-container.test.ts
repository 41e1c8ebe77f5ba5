/**
 * Container hardening checked from inside real jobs run by the agent's DockerRunner (the same
 * HostConfig the agent uses): unprivileged user, no capabilities, no-new-privileges, read-only
 * root, no network, pids limit, memory limit.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRunner, type RunOutcome, type RunSpec } from '@copilot/core/docker-runner';
import { ensureDocker, JOB_IMAGE } from '@test/harness';

const run = promisify(execFile);
const MB = 1024 * 1024;

describe('job container hardening, seen from inside the job', () => {
  let runner: DockerRunner;
  let root: string;
  let counter = 0;

  beforeAll(async () => {
    runner = new DockerRunner({ docker: await ensureDocker(), sampleMs: 500 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-hardening-'));
  });

  afterAll(async () => {
    await runner?.killAll().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function runJob(
    script: string,
    overrides: Partial<RunSpec['limits']> = {},
    wallClockLimitMs = 30_000,
  ): Promise<{ outcome: RunOutcome; stdout: string; stderr: string }> {
    counter += 1;
    const jobId = `hardening-${process.pid}-${counter}`;
    const jobRoot = path.join(root, jobId);
    const inputDir = path.join(jobRoot, 'work');
    const outputDir = path.join(inputDir, 'output');
    fs.mkdirSync(outputDir, { recursive: true, mode: 0o777 });
    fs.chmodSync(inputDir, 0o777);
    fs.chmodSync(outputDir, 0o777);
    const spec: RunSpec = {
      jobId,
      image: JOB_IMAGE,
      argv: ['/bin/sh', '-c', script],
      env: {},
      network: false,
      inputDir,
      outputDir,
      stdoutPath: path.join(jobRoot, 'stdout'),
      stderrPath: path.join(jobRoot, 'stderr'),
      jobRoot,
      limits: {
        nanoCpus: 1e9,
        memoryBytes: 64 * MB,
        memorySwapBytes: 64 * MB,
        pidsLimit: 64,
        diskBytes: 200 * MB,
        ...overrides,
      },
      wallClockLimitMs,
    };
    const outcome = await runner.run(spec);
    await runner.cleanup(jobId).catch(() => undefined);
    return {
      outcome,
      stdout: fs.readFileSync(spec.stdoutPath, 'utf8'),
      stderr: fs.readFileSync(spec.stderrPath, 'utf8'),
    };
  }

  it('runs as uid 1000 with no capabilities, NoNewPrivs, a read-only root and only lo', async () => {
    const { outcome, stdout, stderr } = await runJob(
      [
        'echo "uid=$(id -u) gid=$(id -g)"',
        "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status",
        'echo "net=$(ls /sys/class/net | tr "\\n" " ")"',
        'if echo x > /probe 2>/dev/null; then echo "root=writable"; else echo "root=read-only"; fi',
        'if echo x > /etc/probe 2>/dev/null; then echo "etc=writable"; else echo "etc=read-only"; fi',
        'if echo x > /tmp/probe; then echo "tmp=writable"; fi',
        'if echo x > /work/output/probe; then echo "output=writable"; fi',
        'if wget -q -T 2 -O /dev/null http://1.1.1.1/ 2>/dev/null; then echo "egress=open"; else echo "egress=blocked"; fi',
      ].join('\n'),
    );
    expect(outcome.state, stderr).toBe('done');
    expect(stdout).toContain('uid=1000 gid=1000');
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      expect(stdout).toMatch(new RegExp(`${cap}:\\s+0{16}`));
    }
    expect(stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(stdout).toMatch(/net=lo \n/);
    expect(stdout).toContain('root=read-only');
    expect(stdout).toContain('etc=read-only');
    expect(stdout).toContain('tmp=writable');
    expect(stdout).toContain('output=writable');
    expect(stdout).toContain('egress=blocked');
  });

  it('a fork bomb hits the pids limit; the job ends and the host is fine', async () => {
    const started = Date.now();
    const { outcome, stderr } = await runJob(
      // A bounded bomb: every process tries to fork twice more, for 6 s.
      'bomb() { bomb & bomb & wait; }; (bomb) & sleep 6; echo survived-as-job; exit 3',
      { pidsLimit: 32 },
      20_000,
    );
    expect(['failed', 'timeout']).toContain(outcome.state);
    expect(stderr).toMatch(/fork|Resource temporarily unavailable|Cannot allocate/i);
    expect(Date.now() - started).toBeLessThan(25_000);
    // The host can still start processes, and no container of that job is left.
    const { stdout } = await run('/bin/sh', ['-c', 'echo host-ok']);
    expect(stdout.trim()).toBe('host-ok');
  }, 60_000);

  it('a memory hog is OOM-killed and reported as failed', async () => {
    const { outcome } = await runJob(
      'dd if=/dev/zero of=/dev/null bs=256M count=1 && echo finished',
      { memoryBytes: 48 * MB, memorySwapBytes: 48 * MB },
    );
    expect(outcome.state).toBe('failed');
    // 137 = 128 + SIGKILL: the kernel's OOM killer, not an allocation failure inside dd.
    expect(outcome.exitCode).toBe(137);
  }, 60_000);
});
