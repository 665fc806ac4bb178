import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { createQueue, retryDelayMs, startWorker, type Job, type Worker } from '../../src/queue/index.js';
import { newId, openStore, toJson, type Store } from '../../src/store/index.js';
import { describeEachEngine } from '../helpers/db.js';
import { sleep, waitFor } from './helpers.js';

async function insertRecord(trx: Store['db'], hostId: string): Promise<string> {
  const id = newId();
  const now = Date.now();
  await trx
    .insertInto('records')
    .values({
      id,
      host_id: hostId,
      scope: 'vulns',
      kind: 'vulnerability',
      data: toJson({ title: hostId }),
      version: 1,
      sync_state: 'pending',
      last_error: null,
      deleted_at: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

describe('retryDelayMs', () => {
  const opts = { baseMs: 1000, capMs: 10_000, random: () => 0.5 };
  it('doubles the ceiling per attempt up to the cap, with full jitter', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(a, opts))).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(retryDelayMs(3, { ...opts, random: () => 0 })).toBe(0);
  });
  it('never retries before an explicit retry-after', () => {
    expect(retryDelayMs(1, opts, 30_000)).toBe(30_000);
    expect(retryDelayMs(5, { ...opts, random: () => 0.99 }, 10)).toBe(9900);
  });
});

describeEachEngine('queue', ({ engine, fresh }) => {
  it('commits a record and its job together, or neither', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    await expect(
      store.transaction(async (trx) => {
        const rid = await insertRecord(trx, 'R-1');
        await queue.enqueue(trx, { kind: 'sync', key: rid, payload: { rid } });
        throw new Error('abort after both writes');
      }),
    ).rejects.toThrow('abort after both writes');
    expect(await store.db.selectFrom('records').selectAll().execute()).toHaveLength(0);
    expect(await queue.listJobs()).toHaveLength(0);

    const rid = await store.transaction(async (trx) => {
      const id = await insertRecord(trx, 'R-1');
      await queue.enqueue(trx, { kind: 'sync', key: id, payload: { rid: id } });
      return id;
    });
    expect(await store.db.selectFrom('records').select('id').execute()).toEqual([{ id: rid }]);
    const jobs = await queue.listJobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ kind: 'sync', key: rid, payload: { rid }, state: 'queued', attempts: 0 });
  });

  it('runs each key strictly in order, one at a time, while other keys flow', async () => {
    // PostgreSQL: three stores (separate pools) stand in for three processes. SQLite: one store
    // per process is the deployment model, so the workers share it.
    const first = await fresh();
    const stores = [first.store];
    if (engine === 'postgres') {
      for (let i = 0; i < 2; i++) stores.push(await openStore({ ...first.openOpts, poolMax: 4 }));
    }
    const KEYS = 10;
    const PER_KEY = 8;
    const seen = new Map<string, number[]>();
    const active = new Set<string>();
    const violations: string[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const handler = async (job: Job): Promise<void> => {
      const { n } = job.payload as { n: number };
      if (active.has(job.key)) violations.push(`${job.key} ran #${n} while another job of the key ran`);
      active.add(job.key);
      maxConcurrent = Math.max(maxConcurrent, ++concurrent);
      await sleep(Math.floor(Math.random() * 4));
      seen.set(job.key, [...(seen.get(job.key) ?? []), n]);
      concurrent--;
      active.delete(job.key);
    };
    const queue0 = createQueue(first.store);
    // Enqueue interleaved across keys, several per transaction.
    for (let n = 0; n < PER_KEY; n++) {
      await first.store.transaction(async (trx) => {
        for (let k = 0; k < KEYS; k++) await queue0.enqueue(trx, { kind: 'step', key: `key-${k}`, payload: { n } });
      });
    }
    const workers: Worker[] = [];
    for (let w = 0; w < 3; w++) {
      const store = stores[w % stores.length]!;
      workers.push(
        startWorker({
          store,
          queue: createQueue(store),
          handlers: { step: handler },
          concurrency: 4,
          leaseMs: 5000,
          pollMs: 20,
        }),
      );
    }
    try {
      await waitFor(async () => (await queue0.stats()).byState.done === KEYS * PER_KEY, 'all jobs done');
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      for (const s of stores.slice(1)) await s.close();
    }
    expect(violations).toEqual([]);
    for (let k = 0; k < KEYS; k++) expect(seen.get(`key-${k}`)).toEqual([...Array(PER_KEY).keys()]);
    expect(maxConcurrent).toBeGreaterThan(1);
  });

  it('coalesces a burst into one queued job carrying the latest payload', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    const results = [];
    for (let v = 1; v <= 5; v++) {
      results.push(
        await store.transaction((trx) =>
          queue.enqueue(trx, { kind: 'sync', key: 'rec-1', coalesceKey: 'state', payload: { v } }),
        ),
      );
    }
    expect(results.map((r) => r.coalesced)).toEqual([false, true, true, true, true]);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    // Other keys, kinds and coalesce keys are separate jobs; no coalesceKey never merges.
    await store.transaction(async (trx) => {
      await queue.enqueue(trx, { kind: 'sync', key: 'rec-2', coalesceKey: 'state', payload: {} });
      await queue.enqueue(trx, { kind: 'comment', key: 'rec-1', coalesceKey: 'state', payload: {} });
      await queue.enqueue(trx, { kind: 'sync', key: 'rec-1', coalesceKey: 'other', payload: {} });
      await queue.enqueue(trx, { kind: 'plain', key: 'rec-1', payload: {} });
      await queue.enqueue(trx, { kind: 'plain', key: 'rec-1', payload: {} });
    });
    expect(await queue.listJobs()).toHaveLength(6);
    const merged = (await queue.getJob(results[0]!.id))!;
    expect(merged).toMatchObject({ payload: { v: 5 }, coalesced: 4, state: 'queued' });

    // A running job is never merged into: the change after its start gets its own job.
    const [claimed] = await queue.claim('w1', 1, 5000);
    expect(claimed?.id).toBe(merged.id);
    const after = await store.transaction((trx) =>
      queue.enqueue(trx, { kind: 'sync', key: 'rec-1', coalesceKey: 'state', payload: { v: 6 } }),
    );
    expect(after.coalesced).toBe(false);
    expect(after.id).not.toBe(merged.id);

    // Run the rest: the handler sees one job per coalesced burst.
    await queue.complete(claimed!, 'w1');
    const ran: Array<{ kind: string; payload: unknown }> = [];
    const worker = startWorker({
      store,
      queue,
      handlers: Object.fromEntries(
        ['sync', 'comment', 'plain'].map((k) => [
          k,
          async (j: Job) => void ran.push({ kind: j.kind, payload: j.payload }),
        ]),
      ),
      pollMs: 20,
      leaseMs: 5000,
    });
    await waitFor(async () => (await queue.stats()).byState.done === 7, 'jobs done');
    await worker.stop();
    expect(ran.filter((r) => r.kind === 'sync' && (r.payload as { v?: number }).v === 6)).toHaveLength(1);
  });

  it('retries with growing backoff, honours retry-after, and does not run a job before it is due', async () => {
    const { store } = await fresh();
    let now = 1_000_000;
    const queue = createQueue(store, {
      now: () => now,
      backoff: { baseMs: 1000, capMs: 60_000, random: () => 0.999 },
    });
    const { id } = await store.transaction((trx) => queue.enqueue(trx, { kind: 'k', key: 'a', maxAttempts: 10 }));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const [job] = await queue.claim('w', 1, 5000);
      expect(job).toMatchObject({ id, attempts: attempt });
      expect(await queue.fail(job!, 'w', new Error(`transient ${attempt}`))).toBe('retry');
      const row = (await queue.getJob(id))!;
      expect(row.state).toBe('queued');
      delays.push(row.runAt - now);
      expect(await queue.claim('w', 1, 5000)).toEqual([]); // not due yet
      now = row.runAt;
    }
    expect(delays).toEqual([999, 1998, 3996, 7992]);

    const [job] = await queue.claim('w', 1, 5000);
    const err = new AppError('JIRA_RATE_LIMITED', 'Jira said slow down', { retryAfterMs: 45_000 });
    expect(await queue.fail(job!, 'w', err)).toBe('retry');
    const row = (await queue.getJob(id))!;
    expect(row.runAt - now).toBe(45_000);
    expect(row.lastError).toMatchObject({ code: 'JIRA_RATE_LIMITED', message: 'Jira said slow down', attempt: 5 });
    now += 44_999;
    expect(await queue.claim('w', 1, 5000)).toEqual([]);
    now += 1;
    expect((await queue.claim('w', 1, 5000)).map((j) => j.id)).toEqual([id]);
  });

  it('dead-letters after maxAttempts keeping the last error, and a manual retry runs it again', async () => {
    const { store } = await fresh();
    const queue = createQueue(store, { backoff: { baseMs: 1, capMs: 5 } });
    let calls = 0;
    let healed = false;
    const worker = startWorker({
      store,
      queue,
      pollMs: 10,
      leaseMs: 5000,
      handlers: {
        flaky: async () => {
          calls++;
          if (!healed) throw new AppError('JIRA_UNAVAILABLE', `Jira 503 on call ${calls}`);
        },
      },
    });
    try {
      const { id } = await store.transaction((trx) => queue.enqueue(trx, { kind: 'flaky', key: 'x', maxAttempts: 3 }));
      await waitFor(async () => (await queue.getJob(id))?.state === 'dead', 'job dead');
      const dead = (await queue.getJob(id))!;
      expect(calls).toBe(3);
      expect(dead.attempts).toBe(3);
      expect(dead.lastError).toMatchObject({ code: 'JIRA_UNAVAILABLE', message: 'Jira 503 on call 3', attempt: 3 });
      expect((await queue.listJobs({ state: 'dead' })).map((j) => j.id)).toEqual([id]);
      expect((await queue.stats()).byState.dead).toBe(1);

      expect(await queue.retry(id + 1000)).toBe(false);
      healed = true;
      expect(await queue.retry(id)).toBe(true);
      await waitFor(async () => (await queue.getJob(id))?.state === 'done', 'retried job done');
      expect(calls).toBe(4);
      expect(await queue.retry(id)).toBe(false); // not dead any more
    } finally {
      await worker.stop();
    }
  });

  it('sends permanent errors and unknown kinds straight to dead; retryAllDead requeues them', async () => {
    const { store } = await fresh();
    const queue = createQueue(store, { backoff: { baseMs: 1, capMs: 5 } });
    let calls = 0;
    let fixed = false;
    const worker = startWorker({
      store,
      queue,
      pollMs: 10,
      leaseMs: 5000,
      handlers: {
        bad: async () => {
          calls++;
          if (!fixed) throw new AppError('JIRA_BAD_REQUEST', 'Field "priority" is invalid');
        },
      },
    });
    try {
      const ids = await store.transaction(async (trx) => [
        (await queue.enqueue(trx, { kind: 'bad', key: 'a', maxAttempts: 10 })).id,
        (await queue.enqueue(trx, { kind: 'nobody-handles-this', key: 'b' })).id,
      ]);
      await waitFor(async () => (await queue.stats()).byState.dead === 2, 'both dead');
      const [bad, orphan] = await Promise.all(ids.map((id) => queue.getJob(id)));
      expect(calls).toBe(1);
      expect(bad).toMatchObject({ attempts: 1, lastError: { code: 'JIRA_BAD_REQUEST', retryable: false } });
      expect(orphan).toMatchObject({ attempts: 1, lastError: { code: 'JOB_HANDLER_MISSING' } });
      fixed = true;
      expect(await queue.retryAllDead()).toBe(2);
      await waitFor(async () => (await queue.getJob(ids[0]!))?.state === 'done', 'fixed job done');
      expect(calls).toBe(2);
    } finally {
      await worker.stop();
    }
  });

  it('a failing job holds back later jobs of its key only', async () => {
    const { store } = await fresh();
    let offset = 0;
    const queue = createQueue(store, {
      now: () => Date.now() + offset,
      backoff: { baseMs: 3_600_000, capMs: 3_600_000, random: () => 0.5 },
    });
    const order: string[] = [];
    let failA1 = true;
    const worker = startWorker({
      store,
      queue,
      pollMs: 10,
      leaseMs: 5000,
      handlers: {
        step: async (job) => {
          const { name } = job.payload as { name: string };
          if (name === 'a1' && failA1) throw new AppError('JIRA_NETWORK', 'connection reset');
          order.push(name);
        },
      },
    });
    try {
      const ids = await store.transaction(async (trx) => {
        const out: Record<string, number> = {};
        for (const name of ['a1', 'b1', 'a2', 'b2', 'c1']) {
          out[name] = (await queue.enqueue(trx, { kind: 'step', key: name[0]!, payload: { name } })).id;
        }
        return out;
      });
      await waitFor(() => order.length === 3, 'b1, b2, c1 done');
      expect(order).toEqual(expect.arrayContaining(['b1', 'b2', 'c1']));
      expect(order.indexOf('b1')).toBeLessThan(order.indexOf('b2'));
      expect(await queue.getJob(ids.a1!)).toMatchObject({ state: 'queued', attempts: 1 });
      expect(await queue.getJob(ids.a2!)).toMatchObject({ state: 'queued', attempts: 0 });

      failA1 = false;
      offset = 2 * 3_600_000; // the backoff has passed
      queue.notify();
      await waitFor(() => order.length === 5, 'a1, a2 done');
      expect(order.slice(3)).toEqual(['a1', 'a2']);
    } finally {
      await worker.stop();
    }
  });

  it('wakes an idle worker on commit, and stop() waits for or releases running jobs', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: number[] = [];
    const handlers = {
      slow: async (job: Job, ctx: { signal: AbortSignal }) => {
        started.push(job.id);
        await Promise.race([gate, new Promise((r) => ctx.signal.addEventListener('abort', r))]);
      },
    };
    // pollMs far beyond the test timeout: only the wake-up can start the job.
    const w1 = startWorker({ store, queue, handlers, pollMs: 600_000, leaseMs: 5000 });
    await sleep(50);
    const { id } = await store.transaction((trx) => queue.enqueue(trx, { kind: 'slow', key: 'k' }));
    await waitFor(() => started.includes(id), 'job started after wake-up');
    // A graceful stop waits for the job; a non-graceful stop (drain timeout) releases it and ends both.
    let gracefulReturned = false;
    const graceful = w1.stop().then(() => (gracefulReturned = true));
    await sleep(30);
    expect(gracefulReturned).toBe(false);
    await w1.stop({ graceful: false });
    await graceful;
    expect(await queue.getJob(id)).toMatchObject({ state: 'queued', attempts: 0, leaseOwner: null });

    const w2 = startWorker({ store, queue, handlers, pollMs: 600_000, leaseMs: 5000 });
    await waitFor(() => started.filter((x) => x === id).length === 2, 'job restarted');
    const stopping = w2.stop({ graceful: true });
    await sleep(30);
    expect((await queue.getJob(id))?.state).toBe('running');
    release();
    await stopping;
    expect((await queue.getJob(id))?.state).toBe('done');
  });

  it('wakes workers of another store (process) at commit via LISTEN/NOTIFY on PostgreSQL; SQLite has no pub/sub', async () => {
    const a = await fresh();
    const queueA = createQueue(a.store);
    if (engine === 'sqlite') {
      expect(a.store.pubsub).toBeUndefined();
      return; // one process per SQLite file; in-process wake-ups are covered above
    }
    const b = await openStore({ ...a.openOpts, poolMax: 2 });
    const ran: number[] = [];
    // pollMs far beyond the test timeout: only a NOTIFY from store A can start the job on B.
    const worker = startWorker({
      store: b,
      queue: createQueue(b),
      handlers: { remote: async (job) => void ran.push(job.id) },
      pollMs: 600_000,
      leaseMs: 5000,
    });
    try {
      await sleep(200); // let the worker's first claim and LISTEN settle
      const { id } = await a.store.transaction((trx) => queueA.enqueue(trx, { kind: 'remote', key: 'k' }));
      await waitFor(() => ran.includes(id), 'job run by the other store after NOTIFY');
    } finally {
      await worker.stop();
      await b.close();
    }
  });

  it('a renewed lease keeps a long job from being taken over', async () => {
    const { store } = await fresh();
    let now = 1_000;
    const queue = createQueue(store, { now: () => now });
    const { id } = await store.transaction((trx) => queue.enqueue(trx, { kind: 'k', key: 'a' }));
    const [job] = await queue.claim('A', 1, 500);
    for (let i = 0; i < 5; i++) {
      now += 400;
      expect(await queue.extendLease(job!, 'A', 500)).toBe(true);
      expect(await queue.claim('B', 1, 500)).toEqual([]);
    }
    expect(await queue.complete(job!, 'A')).toBe(true);
    expect(await queue.getJob(id)).toMatchObject({ state: 'done', attempts: 1, lastError: null });
  });

  it('reports stats and lists jobs', async () => {
    const { store } = await fresh();
    let now = 5_000_000;
    const queue = createQueue(store, { now: () => now });
    await store.transaction(async (trx) => {
      await queue.enqueue(trx, { kind: 'a', key: '1' });
      await queue.enqueue(trx, { kind: 'a', key: '2', runAt: now + 60_000 });
      await queue.enqueue(trx, { kind: 'b', key: '3' });
    });
    now += 1234;
    const [job] = await queue.claim('w', 1, 1000);
    const stats = await queue.stats();
    expect(stats.byState).toEqual({ queued: 2, running: 1, done: 0, dead: 0 });
    expect(stats.oldestQueuedAgeMs).toBe(1234);
    expect(stats.ready).toBe(1);
    expect((await queue.listJobs({ kind: 'a' })).map((j) => j.key)).toEqual(['2', '1']);
    expect(await queue.listJobs({ state: 'running' })).toEqual([expect.objectContaining({ id: job!.id })]);
    await queue.complete(job!, 'w');
    now += 10_000;
    expect(await queue.purgeDone(5000)).toBe(1);
    expect((await queue.stats()).byState.done).toBe(0);
  });

  it('takes back the job of a worker whose lease expired, dead-lettering it after its last attempt', async () => {
    const { store } = await fresh();
    let now = 1_000;
    const queue = createQueue(store, { now: () => now });
    const { id } = await store.transaction((trx) => queue.enqueue(trx, { kind: 'k', key: 'a', maxAttempts: 2 }));
    const [a] = await queue.claim('A', 1, 500);
    expect(await queue.claim('B', 1, 500)).toEqual([]);
    now += 501;
    const [b] = await queue.claim('B', 1, 500);
    expect(b).toMatchObject({ id, attempts: 2, leaseOwner: 'B', lastError: { code: 'JOB_LEASE_EXPIRED' } });
    // The first worker's late result is discarded.
    expect(await queue.complete(a!, 'A')).toBe(false);
    expect(await queue.extendLease(a!, 'A', 500)).toBe(false);
    now += 501;
    expect(await queue.claim('C', 1, 500)).toEqual([]);
    expect(await queue.getJob(id)).toMatchObject({ state: 'dead', lastError: { code: 'JOB_LEASE_EXPIRED' } });
  });

  it('takeBackOwn: a worker restarted under its owner name takes its running jobs back before their leases expire, no one else’s', async () => {
    const { store } = await fresh();
    let now = 1_000;
    const queue = createQueue(store, { now: () => now });
    const ids = await store.transaction(async (trx) => [
      (await queue.enqueue(trx, { kind: 'k', key: 'a' })).id,
      (await queue.enqueue(trx, { kind: 'k', key: 'b' })).id,
      (await queue.enqueue(trx, { kind: 'k', key: 'c', maxAttempts: 1 })).id,
    ]);
    const mine = await queue.claim('replica-1', 1, 30_000);
    const theirs = await queue.claim('replica-2', 1, 30_000);
    const last = await queue.claim('replica-1', 1, 30_000);
    expect([mine[0]!.id, theirs[0]!.id, last[0]!.id]).toEqual(ids);
    now += 100; // long before the leases' expiry
    expect(await queue.takeBackOwn('replica-1')).toBe(2);
    // Its own: back in the queue now, the attempt counted (or dead, out of attempts); the other replica's stays.
    expect(await queue.getJob(ids[0]!)).toMatchObject({
      state: 'queued',
      attempts: 1,
      leaseOwner: null,
      runAt: now,
      lastError: { code: 'JOB_OWNER_RESTARTED', retryable: true },
    });
    expect(await queue.getJob(ids[2]!)).toMatchObject({ state: 'dead', lastError: { code: 'JOB_OWNER_RESTARTED' } });
    expect(await queue.getJob(ids[1]!)).toMatchObject({ state: 'running', leaseOwner: 'replica-2' });
    // The dead life's late result is discarded; the new life claims it again at once.
    expect(await queue.complete(mine[0]!, 'replica-1')).toBe(false);
    const again = await queue.claim('replica-1', 2, 30_000);
    expect(again.map((j) => [j.id, j.attempts, j.leaseOwner])).toEqual([[ids[0], 2, 'replica-1']]);
    expect(await queue.takeBackOwn('nobody')).toBe(0);
  });
});
