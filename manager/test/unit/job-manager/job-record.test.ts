import { describe, expect, it } from 'vitest';
import { isValidJobId } from '@copilot/protocol';
import {
  applyPatch,
  formatJmJobData,
  leaseIdFromJmJobData,
  newJobId,
  newLeaseId,
  recordFromFields,
  recordToFields,
  validateJobSpec,
  type JobRecord,
} from '@manager/job-manager/job-record';

describe('job records', () => {
  it('generates valid, unique job ids', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newJobId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(isValidJobId(id)).toBe(true);
  });

  it('round-trips through flat string fields and applies patches with null as removal', () => {
    const record: JobRecord = {
      id: 'job-1',
      command: 'calculator.sh',
      arguments: '',
      environment: 'A=1',
      packages: '',
      inputFiles: 'calculator.sh',
      state: 'leased',
      seq: 3,
      submittedAt: 10,
      updatedAt: 11,
      attempts: 1,
      leaseId: 'l',
      leaseExpiresAt: 99,
    };
    expect(recordFromFields(recordToFields(record))).toEqual(record);
    const patched = applyPatch(record, {
      state: 'done',
      exitCode: 0,
      leaseId: null,
      leaseExpiresAt: null,
    });
    expect(patched).toMatchObject({ state: 'done', exitCode: 0 });
    expect(patched.leaseId).toBeUndefined();
    expect(patched.leaseExpiresAt).toBeUndefined();
    expect(() => recordFromFields({ ...recordToFields(record), state: 'weird' })).toThrow(
      /unknown state/,
    );
  });

  it('carries the lease id in jmJobData and reads it back', () => {
    const lease = newLeaseId();
    expect(leaseIdFromJmJobData(formatJmJobData(lease))).toBe(lease);
    expect(leaseIdFromJmJobData(undefined)).toBeUndefined();
    expect(leaseIdFromJmJobData('startedAt=1')).toBeUndefined();
  });

  it('validates a spec: safe names, command among the inputs', () => {
    const spec = {
      command: 'run.sh',
      arguments: '',
      environment: '',
      packages: '',
      inputFiles: 'run.sh data.txt',
    };
    expect(() => validateJobSpec(spec)).not.toThrow();
    expect(() => validateJobSpec({ ...spec, inputFiles: 'run.sh ../x' })).toThrow(
      /unsafe file name/,
    );
    expect(() => validateJobSpec({ ...spec, validation: 'a/b' })).toThrow(/unsafe file name/);
    expect(() => validateJobSpec({ ...spec, inputFiles: 'data.txt' })).toThrow(
      /must be one of the input files/,
    );
  });

  it('validates owner, priority and image', () => {
    const spec = {
      command: 'run.sh',
      arguments: '',
      environment: '',
      packages: '',
      inputFiles: 'run.sh',
    };
    const image = `127.0.0.1:5000/copilot/job@sha256:${'b'.repeat(64)}`;
    expect(() =>
      validateJobSpec({ ...spec, owner: 'alice@example.org', priority: -5, image }),
    ).not.toThrow();
    expect(() => validateJobSpec({ ...spec, owner: 'alice smith' })).toThrow(/invalid owner/);
    expect(() => validateJobSpec({ ...spec, owner: '' })).toThrow(/invalid owner/);
    expect(() => validateJobSpec({ ...spec, priority: 1.5 })).toThrow(/priority/);
    expect(() => validateJobSpec({ ...spec, priority: 10_000 })).toThrow(/priority/);
    expect(() => validateJobSpec({ ...spec, image: 'copilot-job:latest' })).toThrow(/digest/);
  });

  it('keeps priority a number through the stored fields', () => {
    const record = recordFromFields({
      id: 'j',
      command: 'run.sh',
      state: 'queued',
      priority: '-3',
      owner: 'bob',
    });
    expect(record.priority).toBe(-3);
    expect(record.owner).toBe('bob');
  });
});
