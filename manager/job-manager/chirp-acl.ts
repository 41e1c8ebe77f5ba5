/**
 * Chirp access control lists as chirp_server reads them (cctools chirp_acl.c): a `.__acl` file
 * in each directory, one `<subject> <rights>` per line, subjects with `*` wildcards, rights from
 * `rwldpvax`. The file is read again at every check, and it governs the files directly in its
 * directory only. A directory without one is closed to everybody but chirp's superuser (unless
 * chirp_server runs with --inherit-default-acl); writing an ACL takes the `a` right, deleting it
 * is never allowed.
 *
 * The manager writes the files itself (it has the exported directory on disk, as the original
 * did with `echo ... > .__acl`), atomically, so chirp_server never reads half a list.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ChirpAclEntry } from '@copilot/storage/chirp-wire';

export const CHIRP_ACL_FILE = '.__acl';

/**
 * How agents authenticate: the original with `chirp_get/chirp_put -a address`, ours by address
 * and then hostname. Their address is not known to the manager, hence the wildcards; what keeps
 * one agent out of another's directories is that it cannot list them and cannot guess their names.
 */
export const AGENT_SUBJECTS = ['address:*', 'hostname:*'] as const;

export function agentAcl(rights: string): ChirpAclEntry[] {
  return AGENT_SUBJECTS.map((subject) => ({ subject, rights }));
}

export async function writeChirpAcl(dir: string, entries: readonly ChirpAclEntry[]): Promise<void> {
  const text = entries.map(({ subject, rights }) => `${subject} ${rights}\n`).join('');
  const temp = path.join(dir, `${CHIRP_ACL_FILE}.${randomBytes(6).toString('hex')}`);
  await fs.promises.writeFile(temp, text, { mode: 0o644, flag: 'wx' });
  try {
    await fs.promises.rename(temp, path.join(dir, CHIRP_ACL_FILE));
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
}

export function parseChirpAcl(text: string): ChirpAclEntry[] {
  const entries: ChirpAclEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) ([rwldpvax()]+)/.exec(line);
    const [, subject, rights] = match ?? [];
    if (subject !== undefined && rights !== undefined) entries.push({ subject, rights });
  }
  return entries;
}

/**
 * What is wrong with the exported root's ACL for job storage: a wildcard subject (any agent)
 * that may list the root learns every job directory's name, and one that may write, delete or
 * administer there can tamper with them.
 */
export function rootAclProblems(entries: readonly ChirpAclEntry[]): string[] {
  return entries
    .filter(({ subject, rights }) => subject.includes('*') && /[lwda]/.test(rights))
    .map(({ subject, rights }) => `${subject} ${rights}`);
}
