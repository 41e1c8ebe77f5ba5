/**
 * What the agent uploads into the output dir. Over HTTP storage: `stdout`, `stderr` and each
 * output file on its own. Over Chirp storage: one `<jobID>.tgz` instead, laid out as the
 * original agent's (Agent.pm: `tar -C <workdir> -czf <jobID>.tgz .`, entries `./stdout`,
 * `./stderr`, `./<file>`), because the original manager reads nothing else: at jobDone it moves
 * `<ChirpDir>/<jobID>/<jobID>.tgz` (its outputDir is `<jobID>`) to its done dir. Our manager
 * unpacks the bundle before archiving (manager/job-manager/output-bundle.ts). Sending the separate files
 * as well would double the transfer and leave files the original manager never clears.
 */
import fs from 'node:fs';
import path from 'node:path';
import { create as createTar } from 'tar';
import { parseStorageAddress } from '../protocol/storage-url';
import type { OutputTarget } from './job-store';

/** `[name in the output dir, local file]` pairs, in upload order. */
export type Uploads = Array<[string, string]>;

function isChirp(target: Pick<OutputTarget, 'outputChirpUrl' | 'outputDir'>): boolean {
  try {
    return parseStorageAddress(target.outputChirpUrl, target.outputDir).kind === 'chirp';
  } catch {
    // An address we cannot read fails in the upload itself, with its own message.
    return false;
  }
}

/**
 * Links the files under their upload names into `dir`, or copies them: across file systems, and
 * when the job linked two outputs together, which tar would store as a hard link entry (refused
 * by the manager's extractor).
 */
function stage(files: Uploads, dir: string): string[] {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o700 });
  for (const [name, file] of files) {
    const target = path.join(dir, name);
    try {
      if (fs.statSync(file).nlink !== 1) throw new Error('already linked');
      fs.linkSync(file, target);
    } catch {
      fs.copyFileSync(file, target);
    }
  }
  return files.map(([name]) => `./${name}`);
}

/** Writes `<workRoot>/<jobId>.tgz` holding `files` as `./<name>`; returns its path. */
export async function writeOutputBundle(
  jobId: string,
  files: Uploads,
  workRoot: string,
): Promise<string> {
  const bundle = path.join(workRoot, `${jobId}.tgz`);
  const staging = path.join(workRoot, 'bundle');
  try {
    const entries = stage(files, staging);
    await createTar({ gzip: true, file: bundle, cwd: staging, portable: true }, entries);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return bundle;
}

/** The uploads for this output target: the separate files, or over Chirp the one bundle. */
export async function outputUploads(
  target: Pick<OutputTarget, 'outputChirpUrl' | 'outputDir'>,
  jobId: string,
  files: Uploads,
  workRoot: string,
): Promise<Uploads> {
  if (!isChirp(target)) return files;
  return [[`${jobId}.tgz`, await writeOutputBundle(jobId, files, workRoot)]];
}
