/**
 * The original agent's output (Agent.pm, componentPutJobOutputFiles): one `<jobID>.tgz` of its
 * whole work dir, entries `./`, `./stdout`, `./stderr`, `./resources`, `./_wrapper_.sh`, the
 * inputs and whatever the job wrote. Our agent sends the same bundle over Chirp storage.
 *
 * At jobDone, when a job's output dir holds `<jobId>.tgz` and no `stdout` (the agent sent the
 * bundle rather than separate files), the bundle is unpacked with the safe extractor into the
 * flat layout archiveJobOutputs reads: its top-level regular files (`stdout`, `stderr` and the
 * rest) land beside it, and the bundle itself is removed. Entries under one `<jobId>/` directory
 * (listing 4.23's layout) count as top level. Deeper files are left out: the done archive keeps
 * one flat directory of outputs. A bundle the extractor refuses stays as it is, as an output.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  UnsafeArchiveError,
  extractArchiveSafely,
  type SafeArchiveLimits,
} from '@copilot/protocol/safe-archive';
import { assertValidJobId, isSafeFileName } from '@copilot/protocol';

export interface UnpackedBundle {
  /** Whether a bundle was there to unpack. */
  found: boolean;
  /** File names put into the output dir. */
  files: string[];
  /** Why something of the bundle did not make it, for the job's note. */
  problems: string[];
}

export function bundleName(jobId: string): string {
  return `${assertValidJobId(jobId)}.tgz`;
}

/** The directory whose files are the outputs: the tree itself, or its lone `<jobId>/`. */
function topLevel(tree: string, jobId: string): string {
  const entries = fs.readdirSync(tree, { withFileTypes: true });
  const only = entries[0];
  if (entries.length === 1 && only?.isDirectory() && only.name === jobId) {
    return path.join(tree, jobId);
  }
  return tree;
}

/** Moves the top-level regular files of `tree` into `outputDir`; returns names and skips. */
function moveTopLevelFiles(tree: string, outputDir: string, result: UnpackedBundle): void {
  const skipped: string[] = [];
  for (const entry of fs.readdirSync(tree, { withFileTypes: true })) {
    const target = path.join(outputDir, entry.name);
    if (!entry.isFile() || !isSafeFileName(entry.name) || fs.existsSync(target)) {
      skipped.push(entry.name);
      continue;
    }
    fs.renameSync(path.join(tree, entry.name), target);
    result.files.push(entry.name);
  }
  if (skipped.length > 0) {
    result.problems.push(`left out of the output bundle: ${skipped.sort().join(', ')}`);
  }
}

export async function unpackOutputBundle(
  jobId: string,
  outputDir: string,
  limits: SafeArchiveLimits = {},
): Promise<UnpackedBundle> {
  const bundle = path.join(outputDir, bundleName(jobId));
  const result: UnpackedBundle = { found: false, files: [], problems: [] };
  const bundleStat = fs.lstatSync(bundle, { throwIfNoEntry: false });
  if (!bundleStat?.isFile() || fs.existsSync(path.join(outputDir, 'stdout'))) return result;
  result.found = true;
  // Beside the output dir, not in it: nothing half-extracted may be archived as an output.
  const tree = path.join(path.dirname(outputDir), `.bundle-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(tree, { mode: 0o700 });
  try {
    await extractArchiveSafely(bundle, tree, limits);
    moveTopLevelFiles(topLevel(tree, jobId), outputDir, result);
    fs.rmSync(bundle);
  } catch (error) {
    if (!(error instanceof UnsafeArchiveError)) throw error;
    result.problems.push(`output bundle refused: ${error.message}`);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
  return result;
}
