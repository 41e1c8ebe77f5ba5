/**
 * The JobQueue contract, run against every backend: the SQLite one in the unit project, the
 * Redis one (against a real redis-server) in the integration project.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@copilot/base/logger';
import { renewLease, type JobQueue } from '@manager/job-manager/job-queue';
import {
  newJobId,
  newLeaseId,
  type JobRecord,
  type JobSpec,
} from '@manager/job-manager/job-record';
import { requeueExpiredLeases } from '@manager/job-manager/lease-reaper';
import {
  DEFAULT_OWNER_POLICY,
  parsePerOwner,
  type OwnerPolicy,
} from '@manager/job-manager/owner-policy';

export interface QueueFactory {
  /** A fresh, empty queue (with this fair share and quotas, when given). */
  open(policy?: OwnerPolicy): Promise<JobQueue>;
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

/** A policy from the variables' text, e.g. `policy({ shares: 'alice=3 bob=1' })`. */
export function ownerPolicy(
  texts: { shares?: string; maxQueued?: string; maxRunning?: string },
  halfLifeMs = DEFAULT_OWNER_POLICY.halfLifeMs,
): OwnerPolicy {
  return {
    shares: parsePerOwner(texts.shares ?? '1', 'JM_OWNER_SHARES', 1, 'share'),
    maxQueued: parsePerOwner(texts.maxQueued ?? '0', 'JM_OWNER_MAX_QUEUED', 0, 'cap'),
    maxRunning: parsePerOwner(texts.maxRunning ?? '0', 'JM_OWNER_MAX_RUNNING', 0, 'cap'),
    halfLifeMs,
  };
}

function ownerJobs(owner: string | undefined, count: number, priority?: number) {
  return Array.from({ length: count }, () => ({
    id: newJobId(),
    spec: {
      ...SPEC,
      ...(owner === undefined ? {} : { owner }),
      ...(priority === undefined ? {} : { priority }),
    },
  }));
}

/** Leases the first job `queued` offers, as getJob does; its owner, or undefined when none. */
async function leaseNext(queue: JobQueue, agent = 'a@x/1'): Promise<JobRecord | undefined> {
  const [next] = await queue.queued(1);
  if (!next) return undefined;
  const result = await queue.transition(
    next.id,
    { from: ['queued'] },
    leasePatch(agent, Date.now() + 60_000),
  );
  if (!result.ok) throw new Error(`lease of ${next.id} refused: ${result.reason}`);
  return result.job;
}

async function finish(queue: JobQueue, job: JobRecord): Promise<void> {
  const done = await queue.transition(
    job.id,
    { from: ['leased'], leaseId: job.leaseId },
    { state: 'done', leaseExpiresAt: null },
  );
  if (!done.ok) throw new Error(`job ${job.id} not finished: ${done.reason}`);
}

/** Owners, priorities, fair share and quotas: needs a factory that honours `open(policy)`. */
export function describeOwnerContract(name: string, factory: QueueFactory): void {
  describe(`JobQueue owners contract: ${name}`, () => {
    const withQueue =
      (policy: OwnerPolicy, test: (queue: JobQueue) => Promise<void>) => async () => {
        const queue = await factory.open(policy);
        try {
          await test(queue);
        } finally {
          await queue.close();
        }
      };

    it(
      'hands out work 3:1 to two owners with shares 3 and 1',
      withQueue(ownerPolicy({ shares: 'alice=3 bob=1' }), async (queue) => {
        await queue.addMany([...ownerJobs('bob', 40), ...ownerJobs('alice', 40)]);
        const served = { alice: 0, bob: 0 };
        for (let round = 0; round < 40; round += 1) {
          const job = await leaseNext(queue);
          if (job?.owner !== 'alice' && job?.owner !== 'bob') throw new Error('no owner');
          served[job.owner] += 1;
          await finish(queue, job);
        }
        expect(served.alice).toBeGreaterThanOrEqual(29);
        expect(served.alice).toBeLessThanOrEqual(31);
        const owners = await queue.owners();
        expect(owners.map((entry) => [entry.owner, entry.queued, entry.active])).toEqual([
          ['alice', 40 - served.alice, 0],
          ['bob', 40 - served.bob, 0],
        ]);
        expect(owners[0]?.usage).toBeGreaterThan(28);
      }),
    );

    it(
      "counts an owner's active jobs in its usage, and forgets finished ones with half-life 0",
      withQueue(ownerPolicy({}, 0), async (queue) => {
        await queue.addMany([...ownerJobs('alice', 4), ...ownerJobs('bob', 4)]);
        // alice is first by name; her active job makes bob next.
        const first = await leaseNext(queue);
        expect(first?.owner).toBe('alice');
        expect((await queue.queued(1))[0]?.owner).toBe('bob');
        // Once it is done, only active jobs count (half-life 0): alice is first again.
        if (first) await finish(queue, first);
        expect((await queue.queued(1))[0]?.owner).toBe('alice');
      }),
    );

    it(
      'remembers finished leases with a half-life, so the owner served less goes first',
      withQueue(ownerPolicy({}), async (queue) => {
        await queue.addMany([...ownerJobs('alice', 4), ...ownerJobs('bob', 4)]);
        const first = await leaseNext(queue);
        if (first) await finish(queue, first);
        expect(first?.owner).toBe('alice');
        expect((await queue.queued(1))[0]?.owner).toBe('bob');
      }),
    );

    it(
      "orders an owner's jobs by priority, highest first, then by submission",
      withQueue(ownerPolicy({}), async (queue) => {
        const [low, high1, plain, high2] = [
          ...ownerJobs('carol', 1, -5),
          ...ownerJobs('carol', 1, 7),
          ...ownerJobs('carol', 1),
          ...ownerJobs('carol', 1, 7),
        ];
        if (!low || !high1 || !plain || !high2) throw new Error('no jobs');
        await queue.addMany([low, high1, plain, high2]);
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([
          high1.id,
          high2.id,
          plain.id,
          low.id,
        ]);
        expect((await queue.get(high1.id))?.priority).toBe(7);
        // A requeued job goes back to its place.
        const leased = await leaseNext(queue);
        expect(leased?.id).toBe(high1.id);
        await queue.transition(high1.id, { from: ['leased'] }, { state: 'queued' });
        expect((await queue.queued(2)).map((job) => job.id)).toEqual([high1.id, high2.id]);
      }),
    );

    it(
      'puts jobs without an owner under the owner "", with its own share',
      withQueue(ownerPolicy({ shares: '2 dave=1' }), async (queue) => {
        await queue.addMany([...ownerJobs(undefined, 3), ...ownerJobs('dave', 3)]);
        expect((await queue.queued(10)).map((job) => job.owner ?? '')).toEqual([
          '',
          '',
          '',
          'dave',
          'dave',
          'dave',
        ]);
        expect((await queue.owners()).map((entry) => [entry.owner, entry.queued])).toEqual([
          ['', 3],
          ['dave', 3],
        ]);
      }),
    );

    it(
      'refuses a lease past the running cap, leaves that owner out of the queue, serves others',
      withQueue(ownerPolicy({ maxRunning: '0 alice=1' }), async (queue) => {
        const [a1, a2] = ownerJobs('alice', 2);
        const [b1] = ownerJobs('bob', 1);
        if (!a1 || !a2 || !b1) throw new Error('no jobs');
        await queue.addMany([a1, a2, b1]);
        const first = await queue.transition(a1.id, { from: ['queued'] }, leasePatch('a@x/1', 1));
        expect(first.ok).toBe(true);
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([b1.id]);
        const refused = await queue.transition(
          a2.id,
          { from: ['queued'] },
          leasePatch('a@x/2', Date.now() + 60_000),
        );
        expect(refused).toMatchObject({ ok: false, reason: 'quota', job: { state: 'queued' } });
        expect((await queue.get(a2.id))?.state).toBe('queued');
        expect(await queue.countQueued()).toBe(2);
        const other = await queue.transition(b1.id, { from: ['queued'] }, leasePatch('b@x/1', 1));
        expect(other.ok).toBe(true);
        // The reaper takes alice's job back: her waiting jobs are offered again.
        expect(await requeueExpiredLeases(queue, silentLogger, Date.now())).toEqual(
          expect.arrayContaining([a1.id]),
        );
        // Both owners had one lease (a tie, broken by name): alice's jobs first.
        expect((await queue.queued(10)).map((job) => job.id)).toEqual([a1.id, a2.id, b1.id]);
      }),
    );

    it(
      'lets exactly one of two managers racing for the last running slot lease',
      withQueue(ownerPolicy({ maxRunning: '1' }), async (queue) => {
        const [a1, a2] = ownerJobs('alice', 2);
        if (!a1 || !a2) throw new Error('no jobs');
        await queue.addMany([a1, a2]);
        const other = await factory.reopen(queue);
        try {
          const expires = Date.now() + 60_000;
          const results = await Promise.all([
            queue.transition(a1.id, { from: ['queued'] }, leasePatch('a@x/1', expires)),
            other.transition(a2.id, { from: ['queued'] }, leasePatch('b@x/1', expires)),
          ]);
          expect(results.filter((result) => result.ok)).toHaveLength(1);
          expect(results.find((result) => !result.ok)).toMatchObject({ reason: 'quota' });
          expect(await queue.countActive()).toBe(1);
        } finally {
          await other.close();
        }
      }),
    );

    it(
      "refuses jobs past an owner's queued cap at submission, a batch whole",
      withQueue(ownerPolicy({ maxQueued: '2 bob=3' }), async (queue) => {
        const [alice] = await queue.addMany(ownerJobs('alice', 2));
        await expect(queue.addMany(ownerJobs('alice', 1))).rejects.toThrow(
          /owner alice has 2 queued jobs; 1 more would pass its cap of 2 \(JM_OWNER_MAX_QUEUED\)/,
        );
        await expect(queue.add(newJobId(), { ...SPEC, owner: 'alice' })).rejects.toThrow(
          /JM_OWNER_MAX_QUEUED/,
        );
        await expect(queue.addMany(ownerJobs('bob', 4))).rejects.toThrow(/cap of 3/);
        expect(await queue.countQueued()).toBe(2);
        await queue.addMany(ownerJobs('bob', 3));
        await queue.addMany(ownerJobs(undefined, 2));
        expect(await queue.countQueued()).toBe(7);
        // A leased job no longer counts as queued.
        const leased = await queue.transition(
          alice?.id ?? '',
          { from: ['queued'] },
          leasePatch('a@x/1', Date.now() + 60_000),
        );
        expect(leased.ok).toBe(true);
        await queue.add(newJobId(), { ...SPEC, owner: 'alice' });
        expect(await queue.countQueued()).toBe(7);
      }),
    );
  });
}
