/**
 * A job's own container image (runJob's `image`): whether this agent may run it, and how much of
 * it has been pulled. The image must be pinned by digest and come from a registry the project
 * allows (the `allowedImageRegistries` setting); anything else is refused before anything is
 * pulled or created, and the job ends with state IMAGE_REFUSED.
 */
import type { ImagePullProgress } from '../contract/ui-contract';
import {
  formatPinnedImage,
  isImageAllowed,
  parsePinnedImage,
  type PinnedImage,
} from '../protocol/image-reference';
import { errorMessage } from '../base/errors';

/** The jobDone state (and history outcome) of a job whose image was refused. */
export const IMAGE_REFUSED = 'image-refused';

/** The job's image cannot be used; `message` says why, for the volunteer and the submitter. */
export class ImageRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageRefusedError';
  }
}

/** The allow list setting's entries (separated by spaces or commas). */
export function registryList(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry !== '');
}

/**
 * The image a job names, checked: parsed (pinned by digest, explicit registry) and admitted by
 * `allowed`. Throws ImageRefusedError with a message fit for the UI.
 */
export function checkJobImage(text: string, allowed: readonly string[]): PinnedImage {
  let image: PinnedImage;
  try {
    image = parsePinnedImage(text);
  } catch (error) {
    throw new ImageRefusedError(`the job's image is not usable: ${errorMessage(error)}`);
  }
  if (allowed.length === 0) {
    throw new ImageRefusedError(
      `the job's image ${formatPinnedImage(image)} was refused: this computer allows no ` +
        'registry for job images (setting "Job images may come from")',
    );
  }
  if (!isImageAllowed(image, allowed)) {
    throw new ImageRefusedError(
      `the job's image ${formatPinnedImage(image)} was refused: its registry is not one this ` +
        `computer allows (${allowed.join(', ')})`,
    );
  }
  return image;
}

/**
 * One line of the engine's pull progress (Docker's JSON message stream). Podman's
 * Docker-compatible API sends the same lines with fewer statuses: "Pulling fs layer" (no size),
 * "Downloading" with current/total at most once a second (containers/image's progress interval),
 * "Already exists", "Download complete" (no size; the image's config blob gets one too), and an
 * error as a line of the stream after HTTP 200 where dockerd may answer with an HTTP error.
 */
export interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Adds up a pull's progress over its layers: each layer's bytes downloaded of its total. A layer
 * already present is left out; a finished one counts as complete once its size is known. One that
 * finished before any size was told (Podman, for a blob fetched within a second) counts as
 * nothing of nothing, so that it does not leave the whole pull's size unknown.
 */
export class PullTracker {
  private readonly layers = new Map<string, { current: number; total: number | null }>();

  constructor(private readonly image: string) {}

  /** Takes one event; returns the error message when the event is an error. */
  add(event: PullEvent): string | undefined {
    if (typeof event.error === 'string' || event.errorDetail?.message !== undefined) {
      return event.errorDetail?.message ?? event.error;
    }
    const { id, status, progressDetail } = event;
    if (id === undefined || status === undefined) return undefined;
    if (status === 'Already exists') {
      this.layers.delete(id); // nothing to download
      return undefined;
    }
    const layer = this.layers.get(id) ?? { current: 0, total: null };
    if (status === 'Downloading') {
      const total = progressDetail?.total;
      if (typeof total === 'number' && total > 0) layer.total = total;
      const current = progressDetail?.current;
      if (typeof current === 'number' && current >= 0) layer.current = current;
    } else if (/^(Download complete|Pull complete)$/.test(status)) {
      if (layer.total === null) layer.total = layer.current;
      layer.current = layer.total;
    } else if (!/^(Pulling fs layer|Waiting|Verifying Checksum|Extracting)$/.test(status)) {
      return undefined; // "Pulling from …", "Digest: …", "Status: …" name no layer
    }
    this.layers.set(id, layer);
    return undefined;
  }

  progress(): ImagePullProgress {
    let current = 0;
    let total: number | null = 0;
    for (const layer of this.layers.values()) {
      current += layer.current;
      total = layer.total === null || total === null ? null : total + layer.total;
    }
    return {
      image: this.image,
      currentBytes: current,
      // Nothing known yet (no layer, or only layers that never told a size): unknown.
      totalBytes: this.layers.size === 0 || total === 0 ? null : total,
    };
  }
}
