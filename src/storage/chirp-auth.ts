/**
 * Chirp's authentication negotiation (cctools dttools/src/auth.c): the client names a method,
 * the server answers `yes` or `no`; after a `yes` the method runs, and on success the server
 * sends `yes`, the method and the subject it now knows us by. A refused method lets the client
 * name the next one.
 *
 * - `address`: the server takes our IP address as the subject; nothing is proven.
 * - `hostname`: the same, with the reverse DNS name of that address.
 * - `unix`: only when the server shares our file system: it names a challenge file, we create
 *   it, and it reads our uid from the file's owner. The server chooses that path, so it must look
 *   like one chirp_server makes (`<dir>/challenge.<pid>.<n>`); we never create files elsewhere.
 */
import fs from 'node:fs/promises';
import { ChirpError } from './chirp-error';

export type ChirpAuthMethod = 'address' | 'hostname' | 'unix';

export interface ChirpIdentity {
  method: ChirpAuthMethod;
  /** As ACLs name it, e.g. `address:127.0.0.1` or `unix:copilot`. */
  subject: string;
}

/** What the negotiation needs from the connection. */
export interface AuthLink {
  readLine(): Promise<string>;
  write(text: string): Promise<void>;
}

const CHALLENGE_PATH = /^\/(?:[^/\0\n]+\/)*challenge\.\d{1,10}\.\d{1,10}$/;

function isChallengePath(candidate: string): boolean {
  return (
    CHALLENGE_PATH.test(candidate) &&
    !candidate.split('/').some((part) => part === '..' || part === '.')
  );
}

async function expectYesOrNo(link: AuthLink, step: string): Promise<boolean> {
  const line = await link.readLine();
  if (line === 'yes') return true;
  if (line === 'no') return false;
  throw new ChirpError(
    'EPROTO',
    `malformed Chirp reply (${step}): ${JSON.stringify(line.slice(0, 80))}`,
  );
}

/** Answers the unix challenge; false when we could not or would not meet it. */
async function meetUnixChallenge(link: AuthLink): Promise<boolean> {
  const challenge = await link.readLine();
  if (!isChallengePath(challenge)) {
    await link.write('no\n');
    return false;
  }
  let created = false;
  try {
    const handle = await fs.open(challenge, 'wx', 0o600);
    created = true;
    await handle.close();
    await link.write('yes\n');
    return await expectYesOrNo(link, 'unix challenge');
  } catch (error) {
    if (!created) {
      await link.write('no\n');
      return false;
    }
    throw error;
  } finally {
    if (created) await fs.rm(challenge, { force: true });
  }
}

/** Tries `methods` in order; resolves with the first the server accepts. */
export async function negotiateAuth(
  link: AuthLink,
  methods: readonly ChirpAuthMethod[],
): Promise<ChirpIdentity> {
  for (const method of methods) {
    await link.write(`${method}\n`);
    if (!(await expectYesOrNo(link, `${method} offer`))) continue;
    const accepted =
      method === 'unix'
        ? await meetUnixChallenge(link)
        : await expectYesOrNo(link, `${method} check`);
    if (!accepted) continue;
    if (!(await expectYesOrNo(link, 'authentication result'))) continue;
    const type = await link.readLine();
    const subject = await link.readLine();
    if (type !== method || !/^[\x21-\x7e]+$/.test(subject)) {
      throw new ChirpError(
        'EPROTO',
        `malformed Chirp reply (identity): ${JSON.stringify(`${type} ${subject}`.slice(0, 120))}`,
      );
    }
    return { method, subject: `${type}:${subject}` };
  }
  throw new ChirpError(
    'EACCES',
    `the Chirp server accepted none of the authentication methods ${methods.join(', ')}`,
  );
}
