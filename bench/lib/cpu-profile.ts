/** Reads a V8 .cpuprofile and lists the functions with the most self time. */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@test/harness';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  function: string;
  location: string;
  selfPercent: number;
}

export interface ProfileSummary {
  file: string;
  durationMs: number;
  /** Share of samples in (idle) / (program) / (garbage collector). */
  idlePercent: number;
  gcPercent: number;
  top: ProfileEntry[];
  /**
   * Self time grouped by source module or package (native code counts for its JavaScript
   * caller's module).
   */
  byArea: ProfileEntry[];
}

/** For an esbuild bundle: line index → the source module it came from (`// path.ts` markers). */
const bundleModules = new Map<string, Array<[number, string]>>();

function moduleMarkers(file: string): Array<[number, string]> {
  let markers = bundleModules.get(file);
  if (markers) return markers;
  markers = [];
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      const match = /^\/\/ ((?:src|manager|bench|test)\/\S+\.tsx?)$/.exec(line);
      if (match?.[1]) markers?.push([index, match[1]]);
    });
  } catch {
    // not readable: keep bundle locations
  }
  bundleModules.set(file, markers);
  return markers;
}

/** The source module of a line of a bundle under .tmp/bench, or undefined. */
function bundleSource(file: string, line: number): string | undefined {
  if (!file.endsWith('.mjs') || !file.includes(`${path.sep}.tmp${path.sep}bench${path.sep}`))
    return undefined;
  let found: string | undefined;
  for (const [start, source] of moduleMarkers(file)) {
    if (start > line) break;
    found = source;
  }
  return found;
}

function shortLocation(url: string, line: number): string {
  if (url === '') return '';
  let text = url.replace(/^file:\/\//, '');
  const source = bundleSource(text, line);
  if (source) return `${source} (bundle:${line + 1})`;
  if (text.startsWith(REPO_ROOT)) text = path.relative(REPO_ROOT, text);
  return `${text}:${line + 1}`;
}

function areaOf(url: string, name: string, line: number): string {
  if (name.startsWith('(')) return name;
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url.split('/')[0] ?? url;
  const text = url.replace(/^file:\/\//, '');
  const source = bundleSource(text, line);
  if (source) return source;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(text);
  if (modules?.[1]) return modules[1];
  const relative = text.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, text) : text;
  return path.dirname(relative);
}

export function summariseProfile(file: string, topN = 12): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** Native frames (no url) count towards the nearest JavaScript caller's area. */
  const callerArea = (id: number): string => {
    let current = parentOf.get(id);
    while (current !== undefined) {
      const frame = byId.get(current)?.callFrame;
      if (frame && frame.url !== '') return areaOf(frame.url, frame.functionName, frame.lineNumber);
      current = parentOf.get(current);
    }
    return '(native)';
  };
  const hits = new Map<number, number>();
  if (profile.samples && profile.samples.length > 0) {
    for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  } else {
    for (const node of profile.nodes) hits.set(node.id, node.hitCount ?? 0);
  }
  const total = [...hits.values()].reduce((sum, value) => sum + value, 0) || 1;
  const functions = new Map<string, { name: string; location: string; hits: number }>();
  const areas = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, count] of hits) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') idle += count;
    if (name === '(garbage collector)') gc += count;
    const location = shortLocation(url, lineNumber);
    const key = `${name}@${location}`;
    const entry = functions.get(key) ?? { name, location, hits: 0 };
    entry.hits += count;
    functions.set(key, entry);
    const area =
      url === '' && !name.startsWith('(') ? callerArea(id) : areaOf(url, name, lineNumber);
    areas.set(area, (areas.get(area) ?? 0) + count);
  }
  const percent = (value: number): number => Math.round((1000 * value) / total) / 10;
  return {
    file,
    durationMs: Math.round((profile.endTime - profile.startTime) / 1000),
    idlePercent: percent(idle),
    gcPercent: percent(gc),
    top: [...functions.values()]
      .filter((entry) => entry.name !== '(idle)')
      .sort((a, b) => b.hits - a.hits)
      .slice(0, topN)
      .map((entry) => ({
        function: entry.name,
        location: entry.location,
        selfPercent: percent(entry.hits),
      })),
    byArea: [...areas.entries()]
      .filter(([area]) => area !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([area, count]) => ({ function: area, location: '', selfPercent: percent(count) })),
  };
}

/** Profiles this very process (the simulated agents) with the inspector until stop() is called. */
export async function startSelfProfile(): Promise<{ stop(file: string): Promise<string> }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file: string): Promise<string> {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}
