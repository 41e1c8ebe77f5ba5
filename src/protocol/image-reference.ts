/**
 * Container images a job may name (runJob's `image`, ours): always pinned by digest, always with
 * an explicit registry, so that what runs is exactly what the project published and the agent
 * can check where it comes from before it pulls anything.
 */
import { CopilotError } from '../base/errors';

export class ImageReferenceError extends CopilotError {
  constructor(message: string) {
    super('JOB_FIELD_INVALID', message);
    this.name = 'ImageReferenceError';
  }
}

export interface PinnedImage {
  /** `host[:port]`, lower-cased. */
  registry: string;
  /** Path in the registry, e.g. `copilot/job`. */
  repository: string;
  /** `sha256:<64 hex>`. */
  digest: string;
}

const HOST_PATTERN =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:]+\])(?::[0-9]{1,5})?$/;
const PATH_COMPONENT_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const MAX_REFERENCE_LENGTH = 512;

function fail(text: string, why: string): never {
  throw new ImageReferenceError(`image ${JSON.stringify(text.slice(0, 120))} ${why}`);
}

/** The first component names a registry when it has a dot or a port, or is `localhost`. */
function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** Parses `registry[:port]/path[:tag]@sha256:<hex>`. Anything else throws ImageReferenceError. */
export function parsePinnedImage(text: string): PinnedImage {
  if (text.length > MAX_REFERENCE_LENGTH) fail(text, 'is too long');
  const at = text.indexOf('@');
  if (at < 0) fail(text, 'is not pinned by digest (registry/repository@sha256:…)');
  const digest = text.slice(at + 1);
  if (!DIGEST_PATTERN.test(digest)) fail(text, 'has no valid sha256 digest');
  let name = text.slice(0, at);
  const slash = name.indexOf('/');
  if (slash < 0 || !looksLikeRegistry(name.slice(0, slash))) {
    fail(text, 'names no registry (host[:port]/repository)');
  }
  const registry = name.slice(0, slash).toLowerCase();
  if (!HOST_PATTERN.test(registry)) fail(text, 'has an invalid registry host');
  name = name.slice(slash + 1);
  const colon = name.lastIndexOf(':');
  if (colon >= 0) {
    if (!TAG_PATTERN.test(name.slice(colon + 1))) fail(text, 'has an invalid tag');
    name = name.slice(0, colon);
  }
  const components = name.split('/');
  if (!components.every((component) => PATH_COMPONENT_PATTERN.test(component))) {
    fail(text, 'has an invalid repository path');
  }
  return { registry, repository: components.join('/'), digest };
}

/** The canonical form that is pulled and compared: `registry/repository@digest`. */
export function formatPinnedImage(image: PinnedImage): string {
  return `${image.registry}/${image.repository}@${image.digest}`;
}

/**
 * Whether a project's allow list admits the image. An entry is a registry (`host[:port]`) or a
 * registry with a repository prefix (`host[:port]/project`), matched on path boundaries.
 */
export function isImageAllowed(image: PinnedImage, allowed: readonly string[]): boolean {
  const path = `${image.registry}/${image.repository}`;
  return allowed.some((entry) => {
    const normalised = entry.trim().replace(/\/+$/, '').toLowerCase();
    if (normalised === '') return false;
    return path === normalised || path.startsWith(`${normalised}/`);
  });
}
