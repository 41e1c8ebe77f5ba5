/**
 * The headless agent's projects (src/core/project-set.ts): the first one is what the config file
 * or AGENT_WORK_DIR/project.conf (attached-project.ts) says, as before; `copilot-agent --attach`
 * with a project attached already adds the new one to AGENT_WORK_DIR/projects.json (0600, like
 * project.conf: it holds the account's password) for the project set to run beside it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentSettings } from '../contract/ui-contract';
import type { ProjectSetOptions } from '../core/project-set';
import { projectPart } from '../core/project-fields';
import { DEFAULT_SHARE, fileProjectStore } from '../core/project-store';
import { projectFilePath } from './attached-project';

/** What project.conf refers to beside it (attached-project.ts writes them). */
const PROJECT_PEM_FILES = ['project-ca.pem', 'project-manager-key.pem'];

/**
 * Detaching the first project: possible when an attach wrote it (project.conf, removed with its
 * PEM files once its jobs are done); refused when the config file names it.
 */
export function headlessFirstProject(
  workDir: string,
  configSource: string,
): NonNullable<ProjectSetOptions['firstProject']> {
  return {
    refusal: () =>
      fs.existsSync(projectFilePath(workDir))
        ? null
        : `the first project is set in ${configSource}; remove it there and restart`,
    forget: () => {
      fs.rmSync(projectFilePath(workDir), { force: true });
      for (const name of PROJECT_PEM_FILES) fs.rmSync(path.join(workDir, name), { force: true });
    },
  };
}

/** Adds an attached project beside those in projects.json; returns its id. */
export function addStoredProject(workDir: string, settings: Partial<AgentSettings>): string {
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const store = fileProjectStore(workDir);
  const records = store.load();
  let id = crypto.randomBytes(4).toString('hex');
  while (records.some((record) => record.id === id)) id = crypto.randomBytes(4).toString('hex');
  records.push({ id, share: DEFAULT_SHARE, paused: false, settings: projectPart(settings) });
  store.save(records);
  return id;
}
