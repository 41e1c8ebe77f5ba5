/**
 * The JobQueue contract, run against every backend: the SQLite one in the unit project, the
 * Redis one (against a real redis-server) in the integration project.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@copilot/base/logger';
import { renewLease, type JobQueue } from '@manager/job-manager/job-queue';
import { newJobId, newLeaseId, type JobSpec } from '@manager/job-manager/job-record';
import { requeueExpiredLeases } from '@manager/job-manager/lease-reaper';

export interface QueueFactory {
  /** A fresh, empty queue. */
  open(): Promise<JobQueue>;
  /** Another handle on the same store as `queue` (a second manager, or after a restart). */
  reopen(queue: JobQueue): Promise<JobQueue>;
}

export const SPEC: JobSpec = {
  command: 'calculator.sh',
  arguments: '',
  environment: '',
  packages: '',
  inputFiles: 'calculator.sh',
};

function leasePatch(agent: string, expiresAt: number) {
  return {
    state: 'leased' as const,
    agent,
    requestKey: `${agent}|msg-1`,
    leaseId: newLeaseId(),
    leaseExpiresAt: expiresAt,
    inputToken: 'in-token',
    outputToken: 'out-token',
    attempts: 1,
  };
}

export function describeQueueContract(name: string, factory: QueueFactory): void {
  describe(`JobQueue contract: ${name}`, () => {
    const withQueue = (test: (queue: JobQueue) => Promise<void>) => async () => {
      const queue = await factory.open();
      try {
        await test(queue);
      } finally {
        await queue.close();
      }
    };

    it(
      'stores jobs in state queued and hands them out in submission order',
      withQueue(async (queue) => {
        const first = await queue.add(newJobId(), SPEC);
        const second = await queue.add(newJobId(), { ...SPEC, requirements: 'other.Memory > 1' });
        expect(first.state).toBe('queued');
        expect(second.seq).toBeGreaterThan(first.seq);
        expect((await queue.get(second.id))?.requirements).toBe('other.Memory > 1');
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([first.id, second.id]);
        expect((await queue.queued(1)).map((job) => job.id)).toEqual([first.id]);
        expect(await queue.countQueued()).toBe(2);
        expect((await queue.list()).map((job) => job.id)).toEqual([first.id, second.id]);
        expect(await queue.get('no-such-job')).toBeUndefined();
      }),
    );

    it(
      'rejects duplicate ids, invalid ids and unsafe file names before storing anything',
      withQueue(async (queue) => {
        const id = newJobId();
        await queue.add(id, SPEC);
        await expect(queue.add(id, SPEC)).rejects.toThrow(/already exists/);
        for (const bad of ['../x', 'a/b', 'a\0b', 'a;rm', '$(id)', '']) {
          await expect(queue.add(bad, SPEC), bad).rejects.toThrow(/invalid job id/);
        }
        await expect(
          queue.add(newJobId(), {
            ...SPEC,
            command: '../calculator.sh',
            inputFiles: '../calculator.sh',
          }),
        ).rejects.toThrow(/unsafe file name/);
        await expect(queue.add(newJobId(), { ...SPEC, inputFiles: 'other.dat' })).rejects.toThrow(
          /must be one of the input files/,
        );
        expect(await queue.countQueued()).toBe(1);
      }),
    );

    it(
      'lets exactly one of several racing managers lease a job',
      withQueue(async (queue) => {
        const job = await queue.add(newJobId(), SPEC);
        const other = await factory.reopen(queue);
        try {
          const expires = Date.now() + 60_000;
          const results = await Promise.all([
            queue.transition(job.id, { from: ['queued'] }, leasePatch('a@x/1', expires)),
            other.transition(job.id, { from: ['queued'] }, leasePatch('b@x/1', expires)),
            queue.transition(job.id, { from: ['queued'] }, leasePatch('c@x/1', expires)),
          ]);
          expect(results.filter((result) => result.ok)).toHaveLength(1);
          expect(results.filter((result) => !result.ok).map((r) => !r.ok && r.reason)).toEqual([
            'state',
            'state',
          ]);
          expect(await queue.countQueued()).toBe(0);
          expect(await queue.countActive()).toBe(1);
          expect(await queue.queued(10)).toEqual([]);
          const winner = results.find((result) => result.ok);
          const leased = winner?.ok ? winner.job : undefined;
          expect(leased?.state).toBe('leased');
          expect((await other.findByRequest(`${leased?.agent ?? ''}|msg-1`))?.id).toBe(job.id);
          expect(await other.findByRequest('nobody|msg-1')).toBeUndefined();
        } finally {
          await other.close();
        }
      }),
    );

    it(
      'checks state and lease in every transition',
      withQueue(async (queue) => {
        const job = await queue.add(newJobId(), SPEC);
        const patch = leasePatch('a@x/1', Date.now() + 60_000);
        await queue.transition(job.id, { from: ['queued'] }, patch);
        const wrongLease = await queue.transition(
          job.id,
          { from: ['leased'], leaseId: 'not-the-lease' },
          { state: 'done' },
        );
        expect(wrongLease).toMatchObject({ ok: false, reason: 'lease' });
        const wrongState = await queue.transition(
          job.id,
          { from: ['uploading'] },
          { state: 'done' },
        );
        expect(wrongState).toMatchObject({ ok: false, reason: 'state' });
        expect(await queue.transition('missing-job', { from: ['queued'] }, {})).toMatchObject({
          ok: false,
          reason: 'missing',
        });
        const done = await queue.transition(
          job.id,
          { from: ['leased'], leaseId: patch.leaseId },
          { state: 'done', exitCode: 0, leaseExpiresAt: null, inputToken: null },
        );
        expect(done.ok && done.job).toMatchObject({ state: 'done', exitCode: 0 });
        expect(done.ok && done.job.leaseExpiresAt).toBeUndefined();
        expect(done.ok && done.job.inputToken).toBeUndefined();
        expect(await queue.expiredLeases(Date.now() + 120_000)).toEqual([]);
        expect(await queue.countActive()).toBe(0);
      }),
    );

    it(
      'puts a job whose lease expired back in the queue, but not one whose lease was renewed',
      withQueue(async (queue) => {
        const now = Date.now();
        const expiring = await queue.add(newJobId(), SPEC);
        const renewed = await queue.add(newJobId(), SPEC);
        const patchA = leasePatch('a@x/1', now + 1_000);
        const patchB = leasePatch('b@x/1', now + 1_000);
        await queue.transition(expiring.id, { from: ['queued'] }, patchA);
        await queue.transition(renewed.id, { from: ['queued'] }, patchB);
        await queue.transition(
          renewed.id,
          { from: ['leased'], leaseId: patchB.leaseId },
          {
            state: 'uploading',
            leaseExpiresAt: now + 10_000,
          },
        );
        expect(await queue.expiredLeases(now)).toEqual([]);
        expect(await queue.expiredLeases(now + 2_000)).toEqual([expiring.id]);
        expect(await requeueExpiredLeases(queue, silentLogger, now + 2_000)).toEqual([expiring.id]);
        const back = await queue.get(expiring.id);
        expect(back).toMatchObject({ state: 'queued', attempts: 1 });
        expect(back?.leaseId).toBeUndefined();
        expect(back?.agent).toBeUndefined();
        expect(back?.note).toMatch(/expired/);
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([expiring.id]);
        expect((await queue.get(renewed.id))?.state).toBe('uploading');
        // A late request of the first agent no longer holds the lease.
        const late = await queue.transition(
          expiring.id,
          { from: ['leased', 'running', 'uploading'], leaseId: patchA.leaseId },
          { state: 'done' },
        );
        expect(late).toMatchObject({ ok: false, reason: 'state' });
        expect(await requeueExpiredLeases(queue, silentLogger, now + 2_000)).toEqual([]);
      }),
    );

    it(
      'keeps everything when the store is reopened (a manager restart)',
      withQueue(async (queue) => {
        const job = await queue.add(newJobId(), SPEC);
        const patch = leasePatch('a@x/1', Date.now() + 60_000);
        await queue.transition(job.id, { from: ['queued'] }, patch);
        const queued = await queue.add(newJobId(), SPEC);
        const again = await factory.reopen(queue);
        try {
          expect(await again.get(job.id)).toMatchObject({
            state: 'leased',
            leaseId: patch.leaseId,
            inputToken: 'in-token',
          });
          expect((await again.queued(10)).map((j) => j.id)).toEqual([queued.id]);
        } finally {
          await again.close();
        }
      }),
    );

    it(
      'removes cancelled jobs from the waiting list and requeues at the front',
      withQueue(async (queue) => {
        const a = await queue.add(newJobId(), SPEC);
        const b = await queue.add(newJobId(), SPEC);
        await queue.transition(a.id, { from: ['queued'] }, { state: 'cancelled' });
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([b.id]);
        await queue.transition(a.id, { from: ['cancelled'] }, { state: 'queued' });
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([a.id, b.id]);
        expect(await queue.countQueued()).toBe(2);
      }),
    );

    it(
      'renews a lease only for its holder, and moves the job forward only',
      withQueue(async (queue) => {
        const job = await queue.add(newJobId(), SPEC);
        const patch = leasePatch('a@x/1', Date.now() + 1_000);
        await queue.transition(job.id, { from: ['queued'] }, patch);
        const held = { id: job.id, leaseId: patch.leaseId };
        const running = await renewLease(queue, held, 60_000, 'running');
        expect(running.ok && running.job.state).toBe('running');
        expect(running.ok && running.job.leaseExpiresAt).toBeGreaterThan(Date.now() + 50_000);
        expect(await renewLease(queue, { id: job.id, leaseId: 'other' }, 60_000)).toMatchObject({
          ok: false,
          reason: 'lease',
        });
        expect((await renewLease(queue, held, 60_000, 'uploading')).ok).toBe(true);
        expect(await renewLease(queue, held, 60_000, 'running')).toMatchObject({
          ok: false,
          reason: 'state',
        });
        expect((await renewLease(queue, held, 60_000)).ok).toBe(true);
        expect((await queue.get(job.id))?.state).toBe('uploading');
      }),
    );

    it(
      'keeps each queued job in the queue once, whatever transitions the others go through',
      withQueue(async (queue) => {
        const [a, b, c] = [
          await queue.add(newJobId(), SPEC),
          await queue.add(newJobId(), SPEC),
          await queue.add(newJobId(), SPEC),
        ];
        if (!a || !b || !c) throw new Error('jobs not added');
        const patch = leasePatch('a@x/1', Date.now() + 60_000);
        const leased = await queue.transition(b.id, { from: ['queued'] }, patch);
        expect(leased.ok && leased.job).toMatchObject({ state: 'leased', leaseId: patch.leaseId });
        await queue.transition(a.id, { from: ['queued'] }, { note: 'still waiting' });
        for (const state of ['running', 'uploading'] as const) {
          await queue.transition(
            b.id,
            { from: ['leased', 'running'], leaseId: patch.leaseId },
            { state },
          );
        }
        const refused = await queue.transition(b.id, { from: ['queued'] }, { state: 'leased' });
        expect(refused).toMatchObject({ ok: false, reason: 'state', job: { state: 'uploading' } });
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([a.id, c.id]);
        expect(await queue.countQueued()).toBe(2);
        expect(await queue.countActive()).toBe(1);
      }),
    );

    it(
      'counts the active leases of each account, whatever resource or case the agent used',
      withQueue(async (queue) => {
        const [a, b, c, d] = await queue.addMany(
          [1, 2, 3, 4].map(() => ({ id: newJobId(), spec: SPEC })),
        );
        if (!a || !b || !c || !d) throw new Error('jobs not added');
        const now = Date.now() + 60_000;
        const leaseA = leasePatch('Chatty@x/one', now);
        await queue.transition(a.id, { from: ['queued'] }, leaseA);
        await queue.transition(b.id, { from: ['queued'] }, leasePatch('chatty@x/two', now));
        await queue.transition(c.id, { from: ['queued'] }, leasePatch('other@x/1', now));
        expect(await queue.countActiveOf('chatty@x')).toBe(2);
        expect(await queue.countActiveOf('other@x')).toBe(1);
        expect(await queue.countActiveOf('nobody@x')).toBe(0);
        await queue.transition(
          a.id,
          { from: ['leased'], leaseId: leaseA.leaseId },
          { state: 'uploading' },
        );
        expect(await queue.countActiveOf('chatty@x')).toBe(2);
        await queue.transition(
          a.id,
          { from: ['uploading'], leaseId: leaseA.leaseId },
          { state: 'done', leaseExpiresAt: null },
        );
        expect(await queue.countActiveOf('chatty@x')).toBe(1);
        // Requeued by the reaper: the lease and the agent go.
        expect(await requeueExpiredLeases(queue, silentLogger, now + 1)).toEqual(
          expect.arrayContaining([b.id, c.id]),
        );
        expect(await queue.countActiveOf('chatty@x')).toBe(0);
        expect(await queue.countActiveOf('other@x')).toBe(0);
        const again = await factory.reopen(queue);
        try {
          await again.transition(d.id, { from: ['queued'] }, leasePatch('chatty@x/3', now));
          expect(await queue.countActiveOf('chatty@x')).toBe(1);
        } finally {
          await again.close();
        }
      }),
    );

    it(
      'adds many jobs at once, in order, with their batch',
      withQueue(async (queue) => {
        const jobs = Array.from({ length: 50 }, (_, index) => ({
          id: newJobId(),
          spec: { ...SPEC, batch: 'batch-1', environment: `COPILOT_TASK_INDEX=${index}` },
        }));
        const added = await queue.addMany(jobs);
        expect(added.map((job) => job.id)).toEqual(jobs.map((job) => job.id));
        expect(added.every((job) => job.state === 'queued' && job.batch === 'batch-1')).toBe(true);
        expect((await queue.queued(100)).map((job) => job.environment)).toEqual(
          jobs.map((job) => job.spec.environment),
        );
        expect(await queue.countQueued()).toBe(50);
        expect(await queue.addMany([])).toEqual([]);
        await expect(
          queue.addMany([{ id: newJobId(), spec: { ...SPEC, batch: '../x' } }]),
        ).rejects.toThrow(/invalid batch id/);
        await expect(queue.addMany([{ id: added[0]?.id ?? '', spec: SPEC }])).rejects.toThrow(
          /already exists|not stored/,
        );
        expect(await queue.countQueued()).toBe(50);
      }),
    );
  });
}
