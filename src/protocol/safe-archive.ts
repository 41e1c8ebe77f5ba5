/**
 * Extraction of untrusted job archives (an agent's output tgz on the manager, a job's input on the
 * agent). Two passes: the whole archive is read and checked first, and nothing is written unless
 * every entry is acceptable; then it is extracted with the same rules as a filter. Accepted: regular
 * files and directories with relative paths, no `..`, no NUL, within entry, size and depth caps.
 * Refused: absolute paths, `..`, symbolic and hard links, devices, FIFOs, oversize content,
 * decompression bombs. Modes are reduced to at most 0755 (no setuid, setgid or sticky bits).
 * A directory entry for the archive's own root (`./`, which `tar -C dir -czf x.tgz .` writes
 * first, as the original agent did) names the target itself: it is skipped, not refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Parser, extract, type ReadEntry } from 'tar';

export interface SafeArchiveLimits {
  /** Entries (files and directories). Default 10 000. */
  maxEntries?: number;
  /** Largest single file, bytes. Default 1 GiB. */
  maxFileBytes?: number;
  /** Sum of all file sizes, bytes. Default 4 GiB. */
  maxTotalBytes?: number;
  /** Deepest path, in components. Default 32. */
  maxDepth?: number;
  /** Longest path, in characters. Default 1024. */
  maxPathLength?: number;
  /** Largest decompressed/compressed ratio before the gzip stream is abandoned. Default 200. */
  maxDecompressionRatio?: number;
}

export interface ExtractedArchive {
  /** Relative paths of the regular files written, in archive order. */
  files: string[];
  directories: string[];
  totalBytes: number;
}

/** An archive refused: `entry` is the offending entry's path as written in the archive. */
export class UnsafeArchiveError extends Error {
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(
      entry
        ? `unsafe archive entry ${JSON.stringify(entry)}: ${reason}`
        : `unsafe archive: ${reason}`,
    );
    this.name = 'UnsafeArchiveError';
  }
}

const DEFAULTS: Required<SafeArchiveLimits> = {
  maxEntries: 10_000,
  maxFileBytes: 1024 ** 3,
  maxTotalBytes: 4 * 1024 ** 3,
  maxDepth: 32,
  maxPathLength: 1024,
  maxDecompressionRatio: 200,
};

const FILE_TYPES: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile']);

/** The normalised relative path of an entry, or the reason it is refused. */
export function checkEntryPath(
  raw: string,
  limits: SafeArchiveLimits = {},
): string | { problem: string } {
  const maxPathLength = limits.maxPathLength ?? DEFAULTS.maxPathLength;
  const maxDepth = limits.maxDepth ?? DEFAULTS.maxDepth;
  if (raw.length === 0) return { problem: 'empty path' };
  if (raw.length > maxPathLength) return { problem: `path longer than ${maxPathLength}` };
  if (raw.includes('\0')) return { problem: 'NUL in path' };
  if (raw.includes('\\')) return { problem: 'backslash in path' };
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) return { problem: 'absolute path' };
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return { problem: "'..' in path" };
  if (parts.length === 0) return { problem: 'path names the target directory itself' };
  if (parts.length > maxDepth) return { problem: `deeper than ${maxDepth} levels` };
  return parts.join('/');
}

/** `./` and `.`: a directory entry for the target itself, which extraction skips. */
function isRootDirectory(entry: ReadEntry): boolean {
  return entry.type === 'Directory' && /^(\.\/?)+$/.test(entry.path);
}

function entryProblem(entry: ReadEntry, limits: Required<SafeArchiveLimits>): string | undefined {
  if (isRootDirectory(entry)) return undefined;
  const checked = checkEntryPath(entry.path, limits);
  if (typeof checked !== 'string') return checked.problem;
  if (entry.type === 'Directory') return undefined;
  if (!FILE_TYPES.has(entry.type)) {
    return entry.type === 'SymbolicLink' || entry.type === 'Link'
      ? `${entry.type === 'Link' ? 'hard' : 'symbolic'} link to ${JSON.stringify(entry.linkpath ?? '')}`
      : `entry type ${entry.type} is not a regular file or directory`;
  }
  if ((entry.size ?? 0) > limits.maxFileBytes) {
    return `file of ${entry.size ?? 0} bytes exceeds the ${limits.maxFileBytes}-byte cap`;
  }
  return undefined;
}

/** Pass 1: read every header; resolve when all are acceptable, reject at the first that is not. */
function inspect(archive: string, limits: Required<SafeArchiveLimits>): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: UnsafeArchiveError | undefined;
    let entries = 0;
    let total = 0;
    const seen = new Map<string, 'file' | 'dir'>();
    const parser = new Parser({
      strict: true,
      maxDecompressionRatio: limits.maxDecompressionRatio,
      onReadEntry: (entry) => {
        if (!failure) {
          let problem = entryProblem(entry, limits);
          entries += 1;
          if (!problem && entries > limits.maxEntries)
            problem = `more than ${limits.maxEntries} entries`;
          if (!problem && FILE_TYPES.has(entry.type)) {
            total += entry.size ?? 0;
            if (total > limits.maxTotalBytes)
              problem = `content exceeds the ${limits.maxTotalBytes}-byte cap`;
          }
          if (!problem && !isRootDirectory(entry)) {
            const normal = checkEntryPath(entry.path, limits) as string;
            const kind = entry.type === 'Directory' ? 'dir' : 'file';
            const before = seen.get(normal);
            if (before && (before !== kind || kind === 'file')) problem = 'path appears twice';
            seen.set(normal, kind);
          }
          if (problem) {
            failure = new UnsafeArchiveError(entry.path, problem);
            parser.abort(failure);
          }
        }
        entry.resume();
      },
    });
    const input = fs.createReadStream(archive);
    const finish = (error?: Error): void => {
      input.destroy();
      if (failure) reject(failure);
      else if (error)
        reject(new UnsafeArchiveError('', `not a readable tar archive: ${error.message}`));
      else resolve();
    };
    input.on('error', (error) => finish(error));
    parser.on('error', (error: Error) => finish(error));
    parser.on('end', () => finish());
    input.pipe(parser);
  });
}

function withinTarget(target: string, candidate: string): boolean {
  const relative = path.relative(target, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Extracts `archive` (tar, gzip or not) into `targetDir`, which must exist and be a directory
 * (not a symlink). Throws UnsafeArchiveError, having written nothing, when any entry is refused.
 */
export async function extractArchiveSafely(
  archive: string,
  targetDir: string,
  limitOptions: SafeArchiveLimits = {},
): Promise<ExtractedArchive> {
  const limits: Required<SafeArchiveLimits> = { ...DEFAULTS, ...limitOptions };
  const stat = fs.lstatSync(targetDir);
  if (!stat.isDirectory()) throw new Error(`extraction target ${targetDir} is not a directory`);
  const target = fs.realpathSync(targetDir);
  await inspect(archive, limits);

  const result: ExtractedArchive = { files: [], directories: [], totalBytes: 0 };
  let refused: UnsafeArchiveError | undefined;
  await extract({
    file: archive,
    cwd: target,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    unlink: false,
    maxDepth: limits.maxDepth,
    maxDecompressionRatio: limits.maxDecompressionRatio,
    filter: (_path, entry) => {
      if (!('type' in entry) || isRootDirectory(entry)) return false;
      const problem = entryProblem(entry, limits);
      if (problem) {
        refused ??= new UnsafeArchiveError(entry.path, problem);
        return false;
      }
      entry.mode = (entry.mode ?? 0o644) & 0o755;
      const normal = checkEntryPath(entry.path, limits) as string;
      if (entry.type === 'Directory') result.directories.push(normal);
      else {
        result.files.push(normal);
        result.totalBytes += entry.size ?? 0;
      }
      return true;
    },
  });
  // The archive passed inspection, so a refusal here means it changed in between.
  if (refused) throw refused;
  for (const relative of [...result.files, ...result.directories]) {
    const written = path.join(target, relative);
    const info = fs.lstatSync(written);
    if (info.isSymbolicLink() || !withinTarget(target, fs.realpathSync(written))) {
      throw new UnsafeArchiveError(relative, 'extracted outside the target directory');
    }
  }
  return result;
}
