/**
 * The attached projects, as the project set (project-set.ts) keeps them: `<dataDir>/projects.json`
 * (mode 0600). The first project ('main') has its settings where they always were (the desktop's
 * settings store, the headless agent's config and project.conf), so only its share and pause are
 * here; every other project has its own settings here too, its account's password among them,
 * sealed with the OS secret store when the host offers one (the desktop's safeStorage). A data dir
 * without the file is one project, 'main', with the default share: an install from before several
 * projects reads as exactly what it was, and nothing is rewritten until something changes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { validateSettingsPatch } from '../contract/settings';
import type { AgentSettings } from '../contract/ui-contract';
import { writeFileAtomic } from '../base/write-atomic';
import { projectPart } from './project-fields';

export const PROJECTS_FILE = 'projects.json';
export const FIRST_PROJECT_ID = 'main';
export const DEFAULT_SHARE = 100;
export const MAX_SHARE = 1000;

export interface ProjectRecord {
  id: string;
  share: number;
  paused: boolean;
  /** The project's own settings (project-fields.ts); absent for the first project. */
  settings?: Partial<AgentSettings>;
}

/** Seals and unseals a password (the desktop's safeStorage); undefined: cannot seal now. */
export interface SecretSealer {
  seal(plain: string): string | undefined;
  unseal(sealed: string): string;
}

export interface ProjectStore {
  load(): ProjectRecord[];
  save(records: readonly ProjectRecord[]): void;
}

/** The directory of a project's jobs, history and logs: the data dir itself for the first. */
export function projectDataDir(dataDir: string, id: string): string {
  return id === FIRST_PROJECT_ID ? dataDir : path.join(dataDir, 'projects', id);
}

const ID_PATTERN = /^[a-z0-9]{1,32}$/;

export function validShare(share: unknown): share is number {
  return typeof share === 'number' && Number.isInteger(share) && share >= 1 && share <= MAX_SHARE;
}

interface StoredRecord {
  id?: unknown;
  share?: unknown;
  paused?: unknown;
  settings?: unknown;
  sealedPassword?: unknown;
}

/** A stored record, checked as the settings rules check a patch; undefined: unreadable. */
function readRecord(stored: StoredRecord, secrets?: SecretSealer): ProjectRecord | undefined {
  if (typeof stored.id !== 'string' || !ID_PATTERN.test(stored.id)) return undefined;
  const record: ProjectRecord = {
    id: stored.id,
    share: validShare(stored.share) ? stored.share : DEFAULT_SHARE,
    paused: stored.paused === true,
  };
  if (stored.id === FIRST_PROJECT_ID) return record;
  if (typeof stored.settings !== 'object' || stored.settings === null) return undefined;
  const settings = projectPart(stored.settings as Partial<AgentSettings>);
  if (validateSettingsPatch(settings).length > 0) return undefined;
  if (typeof stored.sealedPassword === 'string' && stored.sealedPassword !== '' && secrets) {
    try {
      settings.xmppPassword = secrets.unseal(stored.sealedPassword);
    } catch {
      settings.xmppPassword = '';
    }
  }
  record.settings = settings;
  return record;
}

function writeRecord(record: ProjectRecord, secrets?: SecretSealer): StoredRecord {
  if (record.settings === undefined) {
    return { id: record.id, share: record.share, paused: record.paused };
  }
  const password = record.settings.xmppPassword ?? '';
  const sealed = password === '' ? undefined : secrets?.seal(password);
  const settings = { ...record.settings, xmppPassword: sealed === undefined ? password : '' };
  return {
    id: record.id,
    share: record.share,
    paused: record.paused,
    settings,
    ...(sealed === undefined ? {} : { sealedPassword: sealed }),
  };
}

/**
 * projects.json in the data dir. An unreadable file, or record, is logged and left out: the
 * first project is always there, so the computer keeps working with what it had before.
 */
export function fileProjectStore(
  dataDir: string,
  options: { secrets?: SecretSealer; log?: (message: string) => void } = {},
): ProjectStore {
  const file = path.join(dataDir, PROJECTS_FILE);
  const log = options.log ?? (() => undefined);
  return {
    load() {
      let stored: unknown;
      try {
        stored = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
          log(`${PROJECTS_FILE} unreadable, only the first project is attached`);
        }
        return [{ id: FIRST_PROJECT_ID, share: DEFAULT_SHARE, paused: false }];
      }
      const list = (stored as { projects?: unknown } | null)?.projects;
      const records = (Array.isArray(list) ? list : [])
        .map((entry) => readRecord((entry ?? {}) as StoredRecord, options.secrets))
        .filter((record): record is ProjectRecord => record !== undefined);
      if (Array.isArray(list) && records.length < list.length) {
        log(`${PROJECTS_FILE}: ${list.length - records.length} unreadable project(s) left out`);
      }
      if (!records.some((record) => record.id === FIRST_PROJECT_ID)) {
        records.unshift({ id: FIRST_PROJECT_ID, share: DEFAULT_SHARE, paused: false });
      }
      return records;
    },
    save(records) {
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const projects = records.map((record) => writeRecord(record, options.secrets));
      writeFileAtomic(file, `${JSON.stringify({ version: 1, projects }, null, 2)}\n`, 0o600);
    },
  };
}
