import { describe, expect, it } from 'vitest';
import {
  checkJobImage,
  ImageRefusedError,
  PullTracker,
  registryList,
} from '@copilot/core/job-image';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('registryList', () => {
  it('splits the setting on spaces and commas, dropping empty entries', () => {
    expect(registryList(' 127.0.0.1:5000/copilot,  registry.example.org \n')).toEqual([
      '127.0.0.1:5000/copilot',
      'registry.example.org',
    ]);
    expect(registryList('')).toEqual([]);
  });
});

describe('checkJobImage', () => {
  it('admits a pinned image from an allowed registry or repository prefix', () => {
    expect(checkJobImage(`127.0.0.1:5000/copilot/job@${DIGEST}`, ['127.0.0.1:5000'])).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'copilot/job',
      digest: DIGEST,
    });
    expect(
      checkJobImage(`registry.example.org/project/job:v1@${DIGEST}`, [
        'registry.example.org/project',
      ]),
    ).toMatchObject({ repository: 'project/job' });
  });

  it('refuses an image from a registry the project does not allow, naming the allowed ones', () => {
    expect(() => checkJobImage(`evil.example.com/job@${DIGEST}`, ['127.0.0.1:5000'])).toThrow(
      /evil\.example\.com\/job@sha256:a+ was refused: its registry is not one this computer allows \(127\.0\.0\.1:5000\)/,
    );
    // a prefix matches on path boundaries only
    expect(() =>
      checkJobImage(`registry.example.org/projectx/job@${DIGEST}`, [
        'registry.example.org/project',
      ]),
    ).toThrow(ImageRefusedError);
  });

  it('refuses every image when the allow list is empty', () => {
    expect(() => checkJobImage(`127.0.0.1:5000/job@${DIGEST}`, [])).toThrow(
      /allows no registry for job images/,
    );
  });

  it('refuses an image that is not pinned by digest or names no registry', () => {
    expect(() => checkJobImage('127.0.0.1:5000/job:latest', ['127.0.0.1:5000'])).toThrow(
      /not pinned by digest/,
    );
    expect(() => checkJobImage(`ubuntu@${DIGEST}`, ['127.0.0.1:5000'])).toThrow(
      /names no registry/,
    );
  });
});

describe('PullTracker', () => {
  it('adds up the bytes of every layer, leaving out layers already present', () => {
    const tracker = new PullTracker('r/x@sha256:1');
    expect(tracker.progress()).toEqual({
      image: 'r/x@sha256:1',
      currentBytes: 0,
      totalBytes: null,
    });
    tracker.add({ status: 'Pulling from x', id: 'latest' });
    tracker.add({ status: 'Pulling fs layer', id: 'a' });
    tracker.add({ status: 'Pulling fs layer', id: 'b' });
    tracker.add({ status: 'Already exists', id: 'c' });
    expect(tracker.progress().totalBytes).toBeNull(); // sizes not known yet
    tracker.add({ status: 'Downloading', id: 'a', progressDetail: { current: 10, total: 100 } });
    tracker.add({ status: 'Downloading', id: 'b', progressDetail: { current: 50, total: 300 } });
    expect(tracker.progress()).toMatchObject({ currentBytes: 60, totalBytes: 400 });
    tracker.add({ status: 'Download complete', id: 'a' });
    tracker.add({ status: 'Extracting', id: 'a', progressDetail: { current: 5, total: 100 } });
    expect(tracker.progress()).toMatchObject({ currentBytes: 150, totalBytes: 400 });
    tracker.add({ status: 'Pull complete', id: 'b' });
    expect(tracker.progress()).toMatchObject({ currentBytes: 400, totalBytes: 400 });
  });

  it("reads Podman's stream: sizes only from Downloading, blobs done before any size count as nothing", () => {
    // Recorded from Podman 4.3's Docker-compatible API, a 3 MB layer pulled at about 1 MB/s.
    const tracker = new PullTracker('r/x@sha256:1');
    tracker.add({ status: 'Pulling fs layer', progressDetail: {}, id: '94d50afbb302' });
    expect(tracker.progress()).toMatchObject({ currentBytes: 0, totalBytes: null });
    tracker.add({
      status: 'Downloading',
      progressDetail: { current: 1956864, total: 2978448 },
      id: '94d50afbb302',
    });
    expect(tracker.progress()).toMatchObject({ currentBytes: 1956864, totalBytes: 2978448 });
    tracker.add({ status: 'Download complete', progressDetail: {}, id: '94d50afbb302' });
    // The image's config blob: fetched at once, its size never told, "complete" twice.
    tracker.add({ status: 'Pulling fs layer', progressDetail: {}, id: 'ea76ab06099b' });
    expect(tracker.progress().totalBytes).toBeNull(); // a blob of unknown size under way
    tracker.add({ status: 'Download complete', progressDetail: {}, id: 'ea76ab06099b' });
    tracker.add({ status: 'Download complete', progressDetail: {}, id: 'ea76ab06099b' });
    expect(tracker.progress()).toMatchObject({ currentBytes: 2978448, totalBytes: 2978448 });

    // A pull faster than Podman's progress interval tells no size at all: unknown, not 0 of 0.
    const fast = new PullTracker('r/x@sha256:1');
    for (const id of ['8d3c9e2f1fe1', '77bab4a3ffb6']) {
      fast.add({ status: 'Pulling fs layer', progressDetail: {}, id });
      fast.add({ status: 'Download complete', progressDetail: {}, id });
    }
    expect(fast.progress()).toEqual({ image: 'r/x@sha256:1', currentBytes: 0, totalBytes: null });
  });

  it("returns the message of Podman's error line, sent after HTTP 200", () => {
    const message =
      'initializing source docker://127.0.0.1:44123/copilot/small@sha256:00: reading manifest ' +
      'sha256:00 in 127.0.0.1:44123/copilot/small: manifest unknown: manifest unknown';
    expect(
      new PullTracker('r/x@sha256:1').add({
        progressDetail: {},
        errorDetail: { message },
        error: message,
      }),
    ).toBe(message);
  });

  it('returns the message of an error line', () => {
    const tracker = new PullTracker('r/x@sha256:1');
    expect(
      tracker.add({
        error: 'manifest unknown',
        errorDetail: { message: 'manifest for r/x@sha256:1 not found: manifest unknown' },
      }),
    ).toBe('manifest for r/x@sha256:1 not found: manifest unknown');
    expect(tracker.add({ status: 'Downloading', id: 'a' })).toBeUndefined();
  });
});
