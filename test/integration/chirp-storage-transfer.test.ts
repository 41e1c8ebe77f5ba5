import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransferError, storageClient } from '@copilot/core/storage-transfer';
import { ChirpError, openChirp, type ChirpClient } from '@copilot/storage';
import { startChirp, type ChirpServer } from '@test/harness';

async function transferError(promise: Promise<unknown>): Promise<TransferError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TransferError);
  return error as TransferError;
}

/**
 * The agent's storage client with a Chirp address, as the report's runJob and storeJobOutputDir
 * give it: the manager (here the test, authenticated by unix) makes a directory per job and
 * grants the agent's address only what it needs there.
 */
describe('storageClient() with Chirp storage (real chirp_server)', () => {
  let chirp: ChirpServer;
  let manager: ChirpClient;
  let work: string;
  const storage = storageClient({ timeoutMs: 10_000 });

  beforeAll(async () => {
    chirp = await startChirp();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-chirp-transfer-'));
    manager = await openChirp(chirp.host, chirp.port, { auth: ['unix'] });
    for (const dir of ['/input', '/input/job-7', '/output', '/output/job-7']) {
      await manager.mkdir(dir);
    }
    // Read-only inputs, write-only outputs: no listing, deleting or ACL changes.
    await manager.setAcl('/input/job-7', 'address:127.0.0.1', 'r');
    await manager.setAcl('/output/job-7', 'address:127.0.0.1', 'w');
  });

  afterAll(async () => {
    manager?.close();
    await chirp?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('downloads an input file from <inputDir>/<name>', async () => {
    const script = path.join(work, 'calculator.sh');
    fs.writeFileSync(script, '#!/bin/sh\necho $(($1 + $2))\n');
    await manager.putFile(script, '/input/job-7/calculator.sh');
    const data = path.join(work, 'data.bin');
    fs.writeFileSync(data, crypto.randomBytes(200_000));
    await manager.putFile(data, '/input/job-7/data.bin');

    const inputs = fs.mkdtempSync(path.join(work, 'inputs-'));
    const got = await storage.download(
      chirp.address,
      '/input/job-7',
      'calculator.sh',
      path.join(inputs, 'calculator.sh'),
      1_000_000,
    );
    expect(got).toBe(fs.statSync(script).size);
    expect(fs.readFileSync(path.join(inputs, 'calculator.sh'), 'utf8')).toContain('echo');

    // The report's `host;port` spelling names the same server.
    await storage.download(
      `${chirp.host};${chirp.port}`,
      '/input/job-7',
      'data.bin',
      path.join(inputs, 'data.bin'),
      1_000_000,
    );
    expect(fs.readFileSync(path.join(inputs, 'data.bin')).equals(fs.readFileSync(data))).toBe(true);
  });

  it('uploads an output file to <outputDir>/<name>, also when outputDir has no leading /', async () => {
    const stdout = path.join(work, 'stdout');
    fs.writeFileSync(stdout, '4\n');
    expect(await storage.upload(chirp.address, '/output/job-7', 'stdout', stdout)).toBe(2);
    // The original manager sent `outputDir` as the bare job id.
    const big = path.join(work, 'result.tgz');
    fs.writeFileSync(big, crypto.randomBytes(1_500_000));
    await storage.upload(chirp.address, 'output/job-7', 'result.tgz', big);

    const back = path.join(work, 'result.back');
    await manager.getFile('/output/job-7/result.tgz', back, 2_000_000);
    expect(fs.readFileSync(back).equals(fs.readFileSync(big))).toBe(true);
    await manager.getFile('/output/job-7/stdout', back, 100);
    expect(fs.readFileSync(back, 'utf8')).toBe('4\n');
  });

  it('keeps the agent to its rights: no writing inputs, no reading outputs', async () => {
    const file = path.join(work, 'intruder');
    fs.writeFileSync(file, 'x');
    const write = await transferError(storage.upload(chirp.address, '/input/job-7', 'x', file));
    expect((write.cause as ChirpError).code).toBe('EACCES');
    const read = await transferError(
      storage.download(chirp.address, '/output/job-7', 'stdout', path.join(work, 'peek'), 100),
    );
    expect((read.cause as ChirpError).code).toBe('EACCES');
    expect(fs.existsSync(path.join(work, 'peek'))).toBe(false);
  });

  it('reports a missing input and an input over the budget as TransferErrors, with no file left', async () => {
    const inputs = fs.mkdtempSync(path.join(work, 'refused-'));
    const missing = await transferError(
      storage.download(chirp.address, '/input/job-7', 'absent', path.join(inputs, 'absent'), 100),
    );
    expect(missing.message).toMatch(/download of absent on Chirp 127\.0\.0\.1:\d+ failed/);
    expect(missing.cause).toBeInstanceOf(ChirpError);
    expect((missing.cause as ChirpError).code).toBe('ENOENT');

    const over = await transferError(
      storage.download(chirp.address, '/input/job-7', 'data.bin', path.join(inputs, 'd'), 1000),
    );
    expect((over.cause as ChirpError).code).toBe('EFBIG');
    expect(fs.readdirSync(inputs)).toEqual([]);
  });

  it('refuses unsafe file names before connecting', async () => {
    await expect(
      storage.download(chirp.address, '/input/job-7', '../job-8/x', path.join(work, 'y'), 10),
    ).rejects.toThrow(/unsafe file name/);
  });
});
