import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { RunningJob } from '@copilot/contract/ui-contract';
import { RunningJobs } from '@copilot/renderer/components/running-jobs';

function job(overrides: Partial<RunningJob>): RunningJob {
  return {
    jobId: '42',
    manager: 'jm@example.org/generic',
    command: 'py.sh',
    phase: 'running',
    receivedAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    elapsedMs: 0,
    wallClockLimitMs: 60_000,
    cpuSeconds: 0,
    progress: null,
    etaMs: null,
    ...overrides,
  };
}

const IMAGE = `127.0.0.1:5000/copilot/job@sha256:${'a'.repeat(64)}`;

describe('RunningJobs', () => {
  it('shows a job whose image is being pulled with its megabytes and percent', () => {
    const html = renderToStaticMarkup(
      <RunningJobs
        jobs={[
          job({
            phase: 'pulling',
            pull: { image: IMAGE, currentBytes: 1024 ** 2, totalBytes: 4 * 1024 ** 2 },
          }),
        ]}
        receivedAt={Date.now()}
      />,
    );
    expect(html).toContain('badge-pulling');
    expect(html).toContain('Pulling the job&#x27;s image: 1.0 MB of 4.0 MB (25 %)');
    expect(html).toContain('aria-label="Job 42 image pull"');
    expect(html).toContain('aria-valuenow="25"');
    expect(html).toContain(`title="${IMAGE}"`);
  });

  it('says only the bytes while the image size is not known yet, and no pull once it runs', () => {
    const pulling = renderToStaticMarkup(
      <RunningJobs
        jobs={[
          job({ phase: 'pulling', pull: { image: IMAGE, currentBytes: 0, totalBytes: null } }),
        ]}
        receivedAt={Date.now()}
      />,
    );
    expect(pulling).toContain('Pulling the job&#x27;s image: 0.0 MB</span>');
    const running = renderToStaticMarkup(
      <RunningJobs jobs={[job({ phase: 'running' })]} receivedAt={Date.now()} />,
    );
    expect(running).not.toContain('Pulling');
    expect(running).toContain('aria-label="Job 42 time used"');
  });
});
