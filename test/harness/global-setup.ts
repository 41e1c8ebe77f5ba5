import { ensureDocker, ensureJobImage, JOB_IMAGE } from './docker';

/**
 * globalSetup of the integration project: a Docker daemon that answers and an up-to-date job
 * image, so tests can assume both. Prosody and Redis are started per test file (about 1 s each).
 * Any failure here fails the run with a clear message; nothing is skipped.
 */
export default async function setup(): Promise<void> {
  const started = Date.now();
  const docker = await ensureDocker();
  await ensureJobImage(docker, JOB_IMAGE);
  const ms = Date.now() - started;
  if (ms > 2_000) process.stdout.write(`[harness] docker and ${JOB_IMAGE} ready in ${ms} ms\n`);
}
