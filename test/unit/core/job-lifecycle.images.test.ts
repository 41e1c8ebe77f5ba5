import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ImagePullProgress } from '@copilot/contract/ui-contract';
import type { JobImages } from '@copilot/core/image-cache';
import { ImageRefusedError } from '@copilot/core/job-image';
import { JobLifecycle } from '@copilot/core/job-lifecycle';
import { JobStore } from '@copilot/core/job-store';
import { containerLimits } from '@copilot/core/resource-policy';
import { formatPinnedImage, type PinnedImage } from '@copilot/protocol/image-reference';
import {
  FakeChannel,
  FakeRunner,
  FakeStorage,
  JM_FULL,
  jobDescription,
  managerExchange,
  scriptedManager,
  sharedLifecycleDeps,
} from './fakes';

const IMAGE = `127.0.0.1:5000/copilot/job@sha256:${'a'.repeat(64)}`;

/** Hands out images as told; records what was asked. */
class FakeImages implements JobImages {
  readonly calls: string[] = [];
  refuse: string | undefined;
  acquire(
    jobId: string,
    image: PinnedImage,
    onProgress: (progress: ImagePullProgress) => void,
  ): Promise<string> {
    const reference = formatPinnedImage(image);
    this.calls.push(`acquire ${jobId} ${reference}`);
    onProgress({ image: reference, currentBytes: 5, totalBytes: 10 });
    if (this.refuse !== undefined) return Promise.reject(new ImageRefusedError(this.refuse));
    return Promise.resolve(reference);
  }
  release(jobId: string): void {
    this.calls.push(`release ${jobId}`);
  }
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-images-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function lifecycle(
  image: string | undefined,
  allowed: string[],
  images: FakeImages,
  phase: 'received' | 'running' = 'received',
) {
  const channel = new FakeChannel(scriptedManager([]));
  const runner = new FakeRunner();
  const storage = new FakeStorage();
  const phases: string[] = [];
  const store = new JobStore(dir);
  const job = jobDescription(image === undefined ? {} : { image });
  const made = new JobLifecycle(
    {
      ...sharedLifecycleDeps({
        runner,
        store,
        storage,
        exchange: managerExchange(channel),
        limits: () =>
          containerLimits(
            { cpuLimitPercent: 50, memoryLimitMb: 512, diskLimitMb: 100, jobSlots: 1 },
            2,
          ),
        images,
        allowedImageRegistries: () => allowed,
      }),
      onPhase: (_jobId, phase) => phases.push(phase),
      onStarted: () => undefined,
      signal: new AbortController().signal,
    },
    {
      job,
      jmJobData: 'lease=1',
      manager: JM_FULL,
      phase,
      receivedAt: new Date().toISOString(),
    },
  );
  return { made, channel, runner, storage, phases };
}

describe('job lifecycle with a job image (runJob image)', () => {
  it('runs a job without an image in the default image, pulling nothing', async () => {
    const images = new FakeImages();
    const { made, runner } = lifecycle(undefined, ['127.0.0.1:5000'], images);
    await expect(made.run()).resolves.toMatchObject({ state: 'done' });
    expect(runner.specs[0]?.image).toBe('copilot-job:latest');
    expect(images.calls.filter((call) => call.startsWith('acquire'))).toEqual([]);
  });

  it('pulls an allowed image (phase pulling with its progress), runs the job in it, then lets it go', async () => {
    const images = new FakeImages();
    const { made, runner, phases } = lifecycle(IMAGE, ['127.0.0.1:5000/copilot'], images);
    let seen: ImagePullProgress | undefined;
    const acquire = images.acquire.bind(images);
    images.acquire = (jobId, image, onProgress) =>
      acquire(jobId, image, (progress) => {
        onProgress(progress);
        seen = made.pullProgress;
      });
    await expect(made.run()).resolves.toMatchObject({ state: 'done' });
    expect(seen).toEqual({ image: IMAGE, currentBytes: 5, totalBytes: 10 });
    expect(made.pullProgress).toBeUndefined();
    expect(phases.slice(0, 3)).toEqual(['pulling', 'downloading', 'starting']);
    expect(runner.specs[0]?.image).toBe(IMAGE);
    expect(images.calls[0]).toBe(`acquire job-1 ${IMAGE}`);
    expect(images.calls).toContain('release job-1');
  });

  it('refuses an image from a registry not allowed before pulling or running anything, and reports image-refused', async () => {
    const images = new FakeImages();
    const { made, runner, channel, storage } = lifecycle(IMAGE, ['registry.example.org'], images);
    const record = await made.run();
    expect(record).toMatchObject({ state: 'image-refused', exitCode: -1 });
    expect(record.error).toMatch(/its registry is not one this computer allows/);
    expect(images.calls.filter((call) => call.startsWith('acquire'))).toEqual([]);
    expect(runner.specs).toEqual([]);
    expect(channel.commands('jobDone')[0]?.command).toMatchObject({
      command: 'jobDone',
      state: 'image-refused',
      exitCode: -1,
      jobID: 'job-1',
    });
    // the submitter reads why in the job's stderr
    expect(storage.uploads.get('/storage/job-1/output/tok2/stderr')).toMatch(
      /^copilot-agent: the job's image .* was refused/,
    );
    expect(storage.uploads.get('/storage/job-1/output/tok2/stdout')).toBe('');
  });

  it('refuses a job whose image cannot be had (pull failed or digest mismatch) without running it', async () => {
    const images = new FakeImages();
    images.refuse = `the image ${IMAGE} was refused: what the registry served does not have the digest`;
    const { made, runner, channel } = lifecycle(IMAGE, ['127.0.0.1:5000'], images);
    const record = await made.run();
    expect(record).toMatchObject({ state: 'image-refused' });
    expect(record.error).toMatch(/does not have the digest/);
    expect(runner.specs).toEqual([]);
    expect(channel.commands('jobDone')[0]?.command).toMatchObject({ state: 'image-refused' });
  });

  it('removes the container an earlier run left when the image is no longer allowed', async () => {
    const images = new FakeImages();
    const { made, runner } = lifecycle(IMAGE, ['registry.example.org'], images, 'running');
    runner.containers.add('job-1');
    const cleaned: string[] = [];
    runner.cleanup = (jobId?: string) => {
      if (jobId === undefined) return Promise.resolve();
      cleaned.push(jobId);
      runner.containers.delete(jobId);
      return Promise.resolve();
    };
    await expect(made.run()).resolves.toMatchObject({ state: 'image-refused' });
    expect(cleaned).toEqual(['job-1']);
    expect(runner.specs).toEqual([]);
  });

  it('refuses every image when no registry is allowed', async () => {
    const images = new FakeImages();
    const { made, runner } = lifecycle(IMAGE, [], images);
    await expect(made.run()).resolves.toMatchObject({ state: 'image-refused' });
    expect(runner.specs).toEqual([]);
    expect(images.calls.filter((call) => call.startsWith('acquire'))).toEqual([]);
  });
});
