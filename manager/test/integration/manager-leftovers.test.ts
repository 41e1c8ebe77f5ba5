/**
 * startJobManager clears what a killed manager left half-written: archive temps in the done
 * dir and upload temps in the storage dir (issue #11).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestXmppServer, type XmppServer } from '@test/harness';
import { startJobManager } from '@manager/job-manager/job-manager';
import { newJobId } from '@manager/job-manager/job-record';
import { managerConfig, PASSWORD, tempDir } from './manager-fixture';

let prosody: XmppServer;

beforeAll(async () => {
  prosody = await startTestXmppServer({ users: [{ username: 'jm', password: PASSWORD }] });
});

afterAll(async () => {
  await prosody?.stop();
});

describe('job manager start', () => {
  it('removes .partial archives and upload temps a killed manager left', async () => {
    const stateDir = tempDir('jm-leftovers-');
    const config = managerConfig(prosody, 'jm', stateDir);
    const jobId = newJobId();
    const jobDoneDir = path.join(config.doneJobDir, jobId);
    const outputDir = path.join(config.storageDir, jobId, 'output');
    fs.mkdirSync(jobDoneDir, { recursive: true });
    fs.mkdirSync(outputDir, { recursive: true });
    fs.writeFileSync(path.join(jobDoneDir, `.${jobId}.tgz.0badf00d.partial`), 'half a tgz');
    fs.writeFileSync(path.join(jobDoneDir, 'stdout'), '4\n');
    fs.writeFileSync(path.join(outputDir, '.upload-0123456789abcdef'), 'half an upload');
    fs.writeFileSync(path.join(outputDir, 'stdout'), '4\n');

    const manager = await startJobManager(config);
    try {
      expect(fs.readdirSync(jobDoneDir)).toEqual(['stdout']);
      expect(fs.readdirSync(outputDir)).toEqual(['stdout']);
    } finally {
      await manager.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
