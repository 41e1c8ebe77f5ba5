/**
 * The job images this agent pulled (runJob's `image`, pinned by digest), kept within a disk cap.
 *
 * - An image is pulled by its digest reference (`registry/repository@sha256:…`), then inspected:
 *   its RepoDigests must hold that exact digest, else it is removed again and the job refused (a
 *   registry serving other content than the digest names).
 * - Only images this agent pulled are recorded (`<dataDir>/job-images.json`: reference, id, size,
 *   last use) and only those are ever removed: the default image and images that were already on
 *   the host are used, never removed.
 * - After a pull and when a job lets go of its image, recorded images that no job holds are
 *   removed least recently used first until the recorded total is within the cap (never forced:
 *   an image a container still uses stays).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ImagePullProgress } from '../contract/ui-contract';
import { formatPinnedImage, type PinnedImage } from '../protocol/image-reference';
import type { Logger } from '../base/logger';
import { errorMessage } from '../base/errors';
import { writeFileAtomic } from '../base/write-atomic';
import { ImageRefusedError, PullTracker, type PullEvent } from './job-image';

export const IMAGE_RECORD_FILE = 'job-images.json';
/** Default room for pulled job images: 10 GiB. */
export const DEFAULT_IMAGE_CACHE_BYTES = 10 * 1024 ** 3;
/** A pull with no progress event for this long is abandoned (the registry stopped sending). */
export const DEFAULT_PULL_STALL_MS = 120_000;
/** A pull that takes longer than this in all is abandoned (a registry trickling bytes). */
export const DEFAULT_PULL_TIMEOUT_MS = 2 * 3_600_000;

export interface LocalImage {
  id: string;
  sizeBytes: number;
  repoDigests: string[];
}

/** What the cache needs of the container engine (DockerRunner implements it). */
export interface ImageEngine {
  /** The local image, or undefined when there is none by that reference. */
  inspectImage(reference: string): Promise<LocalImage | undefined>;
  /** Pulls `reference`, each progress line to `onEvent`; rejects on an error line. */
  pullImage(
    reference: string,
    onEvent: (event: PullEvent) => void,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Removes the reference (not forced: an image a container uses stays). */
  removeImage(reference: string): Promise<void>;
}

/** What a job's lifecycle uses: an image for a job, and letting go of it. */
export interface JobImages {
  /**
   * The local reference to run the job's image as, pulled when missing; throws ImageRefusedError
   * when it cannot be had or is not what its digest says.
   */
  acquire(
    jobId: string,
    image: PinnedImage,
    onProgress: (progress: ImagePullProgress) => void,
    signal?: AbortSignal,
  ): Promise<string>;
  /** The job no longer needs its image (it may now be removed to make room). */
  release(jobId: string): void;
}

interface ImageRecord {
  id: string;
  sizeBytes: number;
  pulledAt: number;
  lastUsedAt: number;
}

export interface ImageCacheOptions {
  engine: ImageEngine;
  /** Where the records of pulled images are kept (the agent's data dir). */
  dataDir: string;
  capBytes?: number;
  logger: Logger;
  now?: () => number;
  /** No progress for this long ends a pull (default DEFAULT_PULL_STALL_MS). */
  pullStallMs?: number;
  /** A pull ends after this long in all (default DEFAULT_PULL_TIMEOUT_MS). */
  pullTimeoutMs?: number;
}

/** Whether a RepoDigests entry names `image`: same digest, same repository (Docker Hub short forms too). */
export function repoDigestMatches(entry: string, image: PinnedImage): boolean {
  const at = entry.lastIndexOf('@');
  if (at < 0 || entry.slice(at + 1).toLowerCase() !== image.digest) return false;
  const name = entry.slice(0, at).toLowerCase();
  const wanted = `${image.registry}/${image.repository}`;
  if (name === wanted) return true;
  if (image.registry !== 'docker.io' && image.registry !== 'registry-1.docker.io') return false;
  const short = image.repository.startsWith('library/')
    ? image.repository.slice('library/'.length)
    : image.repository;
  return name === image.repository || name === short;
}

export class ImageCache implements JobImages {
  private readonly file: string;
  private readonly capBytes: number;
  private readonly now: () => number;
  private records: Map<string, ImageRecord>;
  /** Job id → the reference it runs. */
  private readonly inUse = new Map<string, string>();
  /** One pull per reference at a time; jobs wanting the same image share it. */
  private readonly pulls = new Map<string, Promise<void>>();
  private evicting: Promise<void> | undefined;

  constructor(private readonly options: ImageCacheOptions) {
    this.file = path.join(options.dataDir, IMAGE_RECORD_FILE);
    this.capBytes = options.capBytes ?? DEFAULT_IMAGE_CACHE_BYTES;
    this.now = options.now ?? Date.now;
    this.records = this.load();
  }

  /** The references this agent pulled and keeps, least recently used first. */
  pulled(): string[] {
    return [...this.records]
      .sort(([, a], [, b]) => a.lastUsedAt - b.lastUsedAt)
      .map(([reference]) => reference);
  }

  async acquire(
    jobId: string,
    image: PinnedImage,
    onProgress: (progress: ImagePullProgress) => void,
    signal?: AbortSignal,
  ): Promise<string> {
    const { engine, logger } = this.options;
    const reference = formatPinnedImage(image);
    this.inUse.set(jobId, reference);
    try {
      let local = await engine.inspectImage(reference);
      // Podman finds an image by its digest alone, whichever repository it came from: one the
      // job's repository does not name is pulled under that name, as with dockerd (which looks
      // the name up and answers 404).
      if (local !== undefined && !local.repoDigests.some((e) => repoDigestMatches(e, image))) {
        local = undefined;
      }
      let pulledNow = false;
      if (local === undefined) {
        await this.pull(reference, onProgress, signal);
        pulledNow = true;
        local = await engine.inspectImage(reference);
        if (local === undefined) {
          throw new ImageRefusedError(
            `the image ${reference} is not on this computer after its pull`,
          );
        }
      }
      const ours = pulledNow || this.records.has(reference);
      if (!local.repoDigests.some((entry) => repoDigestMatches(entry, image))) {
        if (ours) await this.forget(reference);
        throw new ImageRefusedError(
          `the image ${reference} was refused: what the registry served does not have the ` +
            `digest ${image.digest}`,
        );
      }
      if (ours) {
        const previous = this.records.get(reference);
        this.records.set(reference, {
          id: local.id,
          sizeBytes: local.sizeBytes,
          pulledAt: previous?.pulledAt ?? this.now(),
          lastUsedAt: this.now(),
        });
        this.save();
        if (local.sizeBytes > this.capBytes) {
          await this.forget(reference);
          throw new ImageRefusedError(
            `the image ${reference} was refused: it takes ${megabytes(local.sizeBytes)} MB, more ` +
              `than the ${megabytes(this.capBytes)} MB this computer keeps for job images`,
          );
        }
        if (pulledNow)
          logger.info('job image pulled', { jobId, image: reference, bytes: local.sizeBytes });
      }
      await this.evict();
      return reference;
    } catch (error) {
      this.inUse.delete(jobId);
      if (error instanceof ImageRefusedError) throw error;
      throw new ImageRefusedError(
        `the image ${reference} could not be pulled: ${errorMessage(error)}`,
      );
    }
  }

  release(jobId: string): void {
    const reference = this.inUse.get(jobId);
    if (reference === undefined) return;
    this.inUse.delete(jobId);
    const record = this.records.get(reference);
    if (record) {
      record.lastUsedAt = this.now();
      this.save();
    }
    void this.evict();
  }

  /** Removes least recently used images no job holds until the recorded total fits the cap. */
  evict(): Promise<void> {
    this.evicting ??= this.evictNow().finally(() => {
      this.evicting = undefined;
    });
    return this.evicting;
  }

  private async evictNow(): Promise<void> {
    const { engine, logger } = this.options;
    const held = new Set(this.inUse.values());
    let total = [...this.records.values()].reduce((sum, record) => sum + record.sizeBytes, 0);
    for (const reference of this.pulled()) {
      if (total <= this.capBytes) return;
      if (held.has(reference)) continue;
      const record = this.records.get(reference) as ImageRecord;
      try {
        await engine.removeImage(reference);
      } catch (error) {
        if ((await engine.inspectImage(reference).catch(() => null)) !== undefined) {
          logger.info('job image kept: it could not be removed', {
            image: reference,
            error: errorMessage(error),
          });
          continue;
        }
      }
      logger.info('unused job image removed to keep within the cap', {
        image: reference,
        bytes: record.sizeBytes,
      });
      this.records.delete(reference);
      total -= record.sizeBytes;
      this.save();
    }
  }

  /**
   * Pulls `reference`, shared by the jobs that want it. The registry is the project's, not
   * ours: a pull whose layers (announced or received) come to more than the cap is stopped
   * before it fills the disk, and one that stalls or drags on past its time is abandoned.
   */
  private pull(
    reference: string,
    onProgress: (progress: ImagePullProgress) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const running = this.pulls.get(reference);
    if (running) return running;
    const tracker = new PullTracker(reference);
    onProgress(tracker.progress());
    let failure: string | undefined;
    let refusal: string | undefined;
    const controller = new AbortController();
    const stop = (why: string): void => {
      refusal ??= why;
      controller.abort();
    };
    const forward = (): void => controller.abort();
    if (signal?.aborted) forward();
    signal?.addEventListener('abort', forward, { once: true });
    const stallMs = this.options.pullStallMs ?? DEFAULT_PULL_STALL_MS;
    const stalled = (): void =>
      stop(`no progress from the registry for ${Math.round(stallMs / 1000)} s`);
    let stall = setTimeout(stalled, stallMs);
    const overallMs = this.options.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
    const overall = setTimeout(
      () => stop(`the pull took longer than ${Math.round(overallMs / 60_000)} min`),
      overallMs,
    );
    const pulling = this.options.engine
      .pullImage(
        reference,
        (event) => {
          clearTimeout(stall);
          stall = setTimeout(stalled, stallMs);
          failure ??= tracker.add(event);
          const progress = tracker.progress();
          if (Math.max(progress.currentBytes, progress.totalBytes ?? 0) > this.capBytes) {
            stop(
              `it takes more than the ${megabytes(this.capBytes)} MB this computer keeps for ` +
                'job images',
            );
          }
          onProgress(progress);
        },
        controller.signal,
      )
      .then(
        () => {
          if (refusal !== undefined) throw new ImageRefusedError(refused(reference, refusal));
          if (failure !== undefined) throw new Error(failure);
        },
        (error: unknown) => {
          if (refusal !== undefined) throw new ImageRefusedError(refused(reference, refusal));
          throw error;
        },
      )
      .finally(() => {
        clearTimeout(stall);
        clearTimeout(overall);
        signal?.removeEventListener('abort', forward);
        this.pulls.delete(reference);
      });
    this.pulls.set(reference, pulling);
    return pulling;
  }

  /** Removes an image this agent pulled, and its record. */
  private async forget(reference: string): Promise<void> {
    await this.options.engine.removeImage(reference).catch((error: unknown) => {
      this.options.logger.warn('could not remove a refused job image', {
        image: reference,
        error: errorMessage(error),
      });
    });
    this.records.delete(reference);
    this.save();
  }

  private load(): Map<string, ImageRecord> {
    const records = new Map<string, ImageRecord>();
    try {
      const value: unknown = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      if (typeof value !== 'object' || value === null) return records;
      for (const [reference, record] of Object.entries(value as Record<string, unknown>)) {
        if (isImageRecord(record)) records.set(reference, record);
      }
    } catch {
      // none yet, or unreadable: start afresh (images not recorded are never removed)
    }
    return records;
  }

  private save(): void {
    try {
      writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.records), null, 2));
    } catch (error) {
      this.options.logger.warn('could not save the job image records', {
        error: errorMessage(error),
      });
    }
  }
}

function isImageRecord(value: unknown): value is ImageRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.id === 'string' &&
    typeof record.sizeBytes === 'number' &&
    typeof record.pulledAt === 'number' &&
    typeof record.lastUsedAt === 'number'
  );
}

function refused(reference: string, why: string): string {
  return `the image ${reference} was refused: ${why}; its pull was stopped`;
}

function megabytes(bytes: number): number {
  return Math.round(bytes / 1024 ** 2);
}

/** Whether the job runner can pull images (the DockerRunner can; a test's fake runner may not). */
export function isImageEngine(value: object): value is ImageEngine {
  const engine = value as Partial<ImageEngine>;
  return (
    typeof engine.inspectImage === 'function' &&
    typeof engine.pullImage === 'function' &&
    typeof engine.removeImage === 'function'
  );
}

/** The agent's image cache over its runner, when the runner can pull; else undefined. */
export function jobImagesFor(
  runner: object,
  dataDir: string,
  logger: Logger,
  capBytes?: number,
): JobImages | undefined {
  if (!isImageEngine(runner)) return undefined;
  const options: ImageCacheOptions = { engine: runner, dataDir, logger };
  if (capBytes !== undefined) options.capBytes = capBytes;
  return new ImageCache(options);
}
