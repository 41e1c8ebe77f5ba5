import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@copilot/base/logger';
import {
  IMAGE_RECORD_FILE,
  ImageCache,
  isImageEngine,
  repoDigestMatches,
  type ImageEngine,
  type LocalImage,
} from '@copilot/core/image-cache';
import type { PullEvent } from '@copilot/core/job-image';
import { ImageRefusedError } from '@copilot/core/job-image';
import { parsePinnedImage, type PinnedImage } from '@copilot/protocol/image-reference';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const pinned = (name: string, c: string): PinnedImage =>
  parsePinnedImage(`127.0.0.1:5000/${name}@${digest(c)}`);
const ref = (name: string, c: string): string => `127.0.0.1:5000/${name}@${digest(c)}`;

/** An engine whose registry holds `remote` (reference → image), honest unless told otherwise. */
class FakeEngine implements ImageEngine {
  readonly local = new Map<string, LocalImage>();
  readonly remote = new Map<string, LocalImage>();
  readonly calls: string[] = [];
  /** References whose container still runs: removal is refused. */
  readonly busy = new Set<string>();

  serve(reference: string, sizeBytes: number, repoDigests = [reference]): void {
    this.remote.set(reference, { id: `id-${reference.slice(-4)}`, sizeBytes, repoDigests });
  }

  inspectImage(reference: string): Promise<LocalImage | undefined> {
    return Promise.resolve(this.local.get(reference));
  }

  pullImage(reference: string, onEvent: (event: PullEvent) => void): Promise<void> {
    this.calls.push(`pull ${reference}`);
    const image = this.remote.get(reference);
    if (!image) {
      onEvent({ error: 'manifest unknown', errorDetail: { message: `${reference}: not found` } });
      return Promise.resolve();
    }
    onEvent({ status: 'Downloading', id: 'l1', progressDetail: { current: 1, total: 2 } });
    onEvent({ status: 'Pull complete', id: 'l1' });
    this.local.set(reference, image);
    return Promise.resolve();
  }

  removeImage(reference: string): Promise<void> {
    this.calls.push(`remove ${reference}`);
    if (this.busy.has(reference)) return Promise.reject(new Error('conflict: image is in use'));
    this.local.delete(reference);
    return Promise.resolve();
  }
}

let dataDir: string;
let clock: number;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'image-cache-'));
  clock = 1_000;
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function cache(engine: FakeEngine, capBytes = 1_000): ImageCache {
  return new ImageCache({ engine, dataDir, capBytes, logger: silentLogger, now: () => clock++ });
}

describe('ImageCache.acquire', () => {
  it('pulls a missing image by digest, reports progress, records it and returns its reference', async () => {
    const engine = new FakeEngine();
    engine.serve(ref('job', 'a'), 100);
    const progress: Array<number | null> = [];
    const images = cache(engine);
    await expect(
      images.acquire('j1', pinned('job', 'a'), (p) => progress.push(p.totalBytes)),
    ).resolves.toBe(ref('job', 'a'));
    expect(engine.calls).toEqual([`pull ${ref('job', 'a')}`]);
    expect(progress).toEqual([null, 2, 2]);
    expect(images.pulled()).toEqual([ref('job', 'a')]);
    const saved = JSON.parse(
      fs.readFileSync(path.join(dataDir, IMAGE_RECORD_FILE), 'utf8'),
    ) as object;
    expect(Object.keys(saved)).toEqual([ref('job', 'a')]);
    // a second job finds it local: no second pull
    await images.acquire('j2', pinned('job', 'a'), () => undefined);
    expect(engine.calls).toHaveLength(1);
  });

  it('refuses an image the registry does not have, with the registry error', async () => {
    const engine = new FakeEngine();
    await expect(cache(engine).acquire('j1', pinned('job', 'b'), () => undefined)).rejects.toThrow(
      /could not be pulled: .*not found/,
    );
  });

  it('refuses and removes an image whose RepoDigests do not hold the digest (a lying registry)', async () => {
    const engine = new FakeEngine();
    engine.serve(ref('job', 'c'), 100, [ref('job', 'd')]);
    const images = cache(engine);
    const acquired = images.acquire('j1', pinned('job', 'c'), () => undefined);
    await expect(acquired).rejects.toBeInstanceOf(ImageRefusedError);
    await expect(acquired).rejects.toThrow(/does not have the digest sha256:c+/);
    expect(engine.calls).toContain(`remove ${ref('job', 'c')}`);
    expect(images.pulled()).toEqual([]);
  });

  it("pulls an image Podman found by its digest under another repository's name", async () => {
    const engine = new FakeEngine();
    // Podman answers an inspect of repo-b@digest with the image pulled as repo-a@digest.
    const other: LocalImage = { id: 'id-aaaa', sizeBytes: 100, repoDigests: [ref('repo-a', 'a')] };
    engine.local.set(ref('repo-b', 'a'), other);
    engine.serve(ref('repo-b', 'a'), 100, [ref('repo-a', 'a'), ref('repo-b', 'a')]);
    await expect(cache(engine).acquire('j1', pinned('repo-b', 'a'), () => undefined)).resolves.toBe(
      ref('repo-b', 'a'),
    );
    expect(engine.calls).toEqual([`pull ${ref('repo-b', 'a')}`]);
  });

  it('refuses an image larger than the whole cap, and removes it', async () => {
    const engine = new FakeEngine();
    engine.serve(ref('big', 'e'), 5 * 1024 ** 2);
    await expect(
      cache(engine, 1024 ** 2).acquire('j1', pinned('big', 'e'), () => undefined),
    ).rejects.toThrow(/takes 5 MB, more than the 1 MB this computer keeps for job images/);
    expect(engine.local.size).toBe(0);
  });

  it('uses an image that was already on the host but never records or removes it', async () => {
    const engine = new FakeEngine();
    engine.local.set(ref('job', 'f'), {
      id: 'x',
      sizeBytes: 5_000,
      repoDigests: [ref('job', 'f')],
    });
    const images = cache(engine, 10);
    await images.acquire('j1', pinned('job', 'f'), () => undefined);
    images.release('j1');
    await images.evict();
    expect(engine.calls).toEqual([]);
    expect(images.pulled()).toEqual([]);
  });
});

describe('ImageCache eviction', () => {
  it('removes the least recently used images no job holds until the total fits the cap', async () => {
    const engine = new FakeEngine();
    for (const c of ['1', '2', '3']) engine.serve(ref('job', c), 400);
    const images = cache(engine, 1_000);
    await images.acquire('j1', pinned('job', '1'), () => undefined);
    await images.acquire('j2', pinned('job', '2'), () => undefined);
    images.release('j1');
    images.release('j2'); // 1 was used before 2
    await images.evict();
    // a third image makes 1,200 bytes: the least recently used (1) goes, 2 and 3 stay
    await images.acquire('j3', pinned('job', '3'), () => undefined);
    expect(engine.calls.filter((call) => call.startsWith('remove'))).toEqual([
      `remove ${ref('job', '1')}`,
    ]);
    expect(images.pulled()).toEqual([ref('job', '2'), ref('job', '3')]);
  });

  it('never removes an image a job holds, nor one a container still uses', async () => {
    const engine = new FakeEngine();
    for (const c of ['1', '2']) engine.serve(ref('job', c), 700);
    const images = cache(engine, 1_000);
    await images.acquire('j1', pinned('job', '1'), () => undefined);
    await images.acquire('j2', pinned('job', '2'), () => undefined);
    expect(engine.calls.some((call) => call.startsWith('remove'))).toBe(false);
    engine.busy.add(ref('job', '1')); // its container has not been removed yet
    images.release('j1');
    await images.evict();
    expect(images.pulled().sort()).toEqual([ref('job', '1'), ref('job', '2')]);
    engine.busy.clear();
    await images.evict();
    expect(images.pulled()).toEqual([ref('job', '2')]);
  });

  it('keeps its records across restarts and removes only what it pulled', async () => {
    const engine = new FakeEngine();
    engine.serve(ref('job', '1'), 700);
    engine.local.set('copilot-job:latest', { id: 'default', sizeBytes: 9_999, repoDigests: [] });
    const first = cache(engine, 1_000);
    await first.acquire('j1', pinned('job', '1'), () => undefined);
    first.release('j1');
    const second = cache(engine, 100); // restarted with a smaller cap
    expect(second.pulled()).toEqual([ref('job', '1')]);
    await second.evict();
    expect(engine.local.has(ref('job', '1'))).toBe(false);
    expect(engine.local.has('copilot-job:latest')).toBe(true);
  });
});

describe('repoDigestMatches and isImageEngine', () => {
  it('matches the same digest in the same repository only (Docker Hub short names too)', () => {
    const image = pinned('copilot/job', 'a');
    expect(repoDigestMatches(`127.0.0.1:5000/copilot/job@${digest('a')}`, image)).toBe(true);
    expect(repoDigestMatches(`127.0.0.1:5000/copilot/job@${digest('b')}`, image)).toBe(false);
    expect(repoDigestMatches(`127.0.0.1:5000/other@${digest('a')}`, image)).toBe(false);
    const hub = parsePinnedImage(`docker.io/library/debian@${digest('a')}`);
    expect(repoDigestMatches(`debian@${digest('a')}`, hub)).toBe(true);
  });

  it('tells a runner that can pull from one that cannot', () => {
    expect(isImageEngine(new FakeEngine())).toBe(true);
    expect(isImageEngine({ run: () => undefined })).toBe(false);
  });
});

/**
 * A hostile registry behind the engine: it announces (or streams) as many bytes as it likes, or
 * stops sending, and the pull only ends when its signal aborts (as DockerRunner.pullImage does).
 */
class EndlessEngine implements ImageEngine {
  aborted = false;
  constructor(private readonly behaviour: 'huge' | 'stall') {}

  inspectImage(): Promise<LocalImage | undefined> {
    return Promise.resolve(undefined);
  }

  pullImage(
    _reference: string,
    onEvent: (event: PullEvent) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise((_resolve, reject) => {
      let current = 0;
      const timer =
        this.behaviour === 'huge'
          ? setInterval(() => {
              current += 400;
              onEvent({
                status: 'Downloading',
                id: 'l1',
                progressDetail: { current, total: 1024 ** 4 },
              });
            }, 5)
          : undefined;
      onEvent({ status: 'Pulling fs layer', id: 'l1' });
      signal?.addEventListener('abort', () => {
        clearInterval(timer);
        this.aborted = true;
        reject(new Error('pull abandoned'));
      });
    });
  }

  removeImage(): Promise<void> {
    return Promise.resolve();
  }
}

describe('ImageCache against a hostile registry', () => {
  const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'still pulling'> =>
    Promise.race([
      promise,
      new Promise<'still pulling'>((r) => setTimeout(() => r('still pulling'), ms)),
    ]);

  it('stops a pull that would take more than the cap, before it fills the disk', async () => {
    const engine = new EndlessEngine('huge');
    const images = new ImageCache({ engine, dataDir, capBytes: 1_000, logger: silentLogger });
    const outcome = await within(
      images.acquire('j1', pinned('job', 'a'), () => undefined).catch((error: unknown) => error),
      2_000,
    );
    expect(outcome).toBeInstanceOf(ImageRefusedError);
    expect((outcome as Error).message).toMatch(/more than the .* this computer keeps/);
    expect(engine.aborted).toBe(true);
    expect(images.pulled()).toEqual([]);
  });

  it('stops a pull whose registry stops sending', async () => {
    const engine = new EndlessEngine('stall');
    const images = new ImageCache({
      engine,
      dataDir,
      logger: silentLogger,
      pullStallMs: 200,
    });
    const outcome = await within(
      images.acquire('j1', pinned('job', 'a'), () => undefined).catch((error: unknown) => error),
      2_000,
    );
    expect(outcome).toBeInstanceOf(ImageRefusedError);
    expect((outcome as Error).message).toMatch(/no progress/);
    expect(engine.aborted).toBe(true);
  });
});
