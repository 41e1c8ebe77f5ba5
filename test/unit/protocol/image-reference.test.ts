import { describe, expect, it } from 'vitest';
import {
  formatPinnedImage,
  ImageReferenceError,
  isImageAllowed,
  parsePinnedImage,
} from '@copilot/protocol/image-reference';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('parsePinnedImage', () => {
  it('reads registry, repository and digest', () => {
    expect(parsePinnedImage(`127.0.0.1:5000/copilot/job@${DIGEST}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'copilot/job',
      digest: DIGEST,
    });
  });

  it('accepts and drops a tag before the digest', () => {
    const image = parsePinnedImage(`Registry.Example.org/cernvm/job:2026.11@${DIGEST}`);
    expect(formatPinnedImage(image)).toBe(`registry.example.org/cernvm/job@${DIGEST}`);
  });

  it.each([
    ['no digest', '127.0.0.1:5000/copilot/job:latest'],
    ['a short digest', '127.0.0.1:5000/copilot/job@sha256:abc'],
    ['another algorithm', `127.0.0.1:5000/copilot/job@md5:${'a'.repeat(32)}`],
    ['no registry', `copilot/job@${DIGEST}`],
    ['a bare name', `job@${DIGEST}`],
    ['an upper-case path', `127.0.0.1:5000/Copilot/job@${DIGEST}`],
    ['a path that climbs', `127.0.0.1:5000/../job@${DIGEST}`],
    ['white space', `127.0.0.1:5000/copilot job@${DIGEST}`],
    ['an option', `--privileged@${DIGEST}`],
    ['a huge reference', `r.example.org/${'a/'.repeat(300)}x@${DIGEST}`],
  ])('refuses %s', (_why, text) => {
    expect(() => parsePinnedImage(text)).toThrow(ImageReferenceError);
  });
});

describe('isImageAllowed', () => {
  const image = parsePinnedImage(`registry.example.org:5000/cern/job@${DIGEST}`);

  it('admits a listed registry and a listed repository prefix', () => {
    expect(isImageAllowed(image, ['registry.example.org:5000'])).toBe(true);
    expect(isImageAllowed(image, ['other.org', 'registry.example.org:5000/cern/'])).toBe(true);
  });

  it('matches prefixes on path boundaries only', () => {
    expect(isImageAllowed(image, ['registry.example.org:5000/ce'])).toBe(false);
    expect(isImageAllowed(image, ['registry.example.org'])).toBe(false);
    expect(isImageAllowed(image, [])).toBe(false);
    expect(isImageAllowed(image, [''])).toBe(false);
  });
});
