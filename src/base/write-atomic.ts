import fs from 'node:fs';

/** Writes `file` through a temp file and a rename, so a crash never leaves half of it. */
export function writeFileAtomic(file: string, text: string, mode?: number): void {
  const temp = `${file}.tmp`;
  fs.writeFileSync(temp, text, mode === undefined ? undefined : { mode });
  fs.renameSync(temp, file);
}
