import { open, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Serves a file from `root`, falling back to index.html; never a path outside `root`. */
export async function serveStatic(
  root: string,
  urlPath: string,
  response: ServerResponse,
): Promise<void> {
  const base = resolve(root);
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  } catch {
    response.writeHead(400).end('bad path');
    return;
  }
  if (relative.includes('\0')) {
    response.writeHead(400).end('bad path');
    return;
  }
  let file = resolve(join(base, relative));
  if (file !== base && !file.startsWith(base + sep)) {
    response.writeHead(403).end('forbidden');
    return;
  }
  const info = await stat(file).catch(() => undefined);
  if (!info || info.isDirectory()) file = join(base, 'index.html');
  const exists = await stat(file).catch(() => undefined);
  // Opened before the 200 goes out: a file that cannot be read is an error reply, and a read
  // stream's 'error' never goes unhandled (which would end the whole process).
  const handle = exists?.isFile() ? await open(file, 'r').catch(() => undefined) : undefined;
  if (!handle) {
    response.writeHead(404).end('not found');
    return;
  }
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'x-content-type-options': 'nosniff',
    // The UI is never framed: a page that frames it could trick clicks on Accept or Abort.
    'x-frame-options': 'DENY',
    'content-security-policy': "frame-ancestors 'none'",
  });
  await pipeline(handle.createReadStream(), response).catch(() => response.destroy());
}
