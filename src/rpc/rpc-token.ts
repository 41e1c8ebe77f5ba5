import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The GUI RPC password, kept like BOINC's gui_rpc_auth.cfg: created once with mode 0600 and
 * reused, so a browser tab or a remote manager UI keeps working across agent restarts.
 */
export async function loadOrCreateToken(tokenFile: string): Promise<string> {
  try {
    const existing = (await readFile(tokenFile, 'utf8')).trim();
    if (existing.length >= 16) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(32).toString('base64url');
  await mkdir(dirname(tokenFile), { recursive: true });
  await writeFile(tokenFile, token + '\n', { mode: 0o600 });
  return token;
}

export function tokensMatch(expected: string, offered: string | undefined): boolean {
  if (offered === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(offered);
  return a.length === b.length && timingSafeEqual(a, b);
}
