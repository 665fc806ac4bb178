import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createQueue, startWorker, type Job, type Queue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/index.js';
import { describeEachEngine } from '../helpers/db.js';
import { waitFor } from './helpers.js';

/**
 * Fair claiming across partitions (issue 17). Claims are asserted by order and count, never by
 * time: "B's job is claimed within k claims of its enqueue, whatever A's backlog".
 */

type Spec = { partition: string; key: string; n?: number };

/** Enqueues `count` jobs of `partition`, one key each, `perTx` per transaction. */
async function backlog(store: Store, queue: Queue, partition: string, count: number, perTx = 100): Promise<void> {
  for (let i = 0; i < count; i += perTx) {
    await store.transaction(async (trx) => {
      for (let j = i; j < Math.min(count, i + perTx); j++) {
        await queue.enqueue(trx, { kind: 'work', key: `${partition}-k${j}`, partition, payload: { n: j } });
      }
    });
  }
}

async function add(store: Store, queue: Queue, s: Spec): Promise<number> {
  const r = await store.transaction((trx) =>
    queue.enqueue(trx, { kind: 'work', key: s.key, partition: s.partition, payload: { n: s.n ?? 0 } }),
  );
  return r.id;
}

/** Claims one job at a time (completing each) until `stop` holds or nothing is due; returns them in order. */
async function drain(queue: Queue, stop: (claimed: Job[]) => boolean = () => false, max = 10_000): Promise<Job[]> {
  const claimed: Job[] = [];
  while (claimed.length < max) {
    const [job] = await queue.claim('w', 1, 60_000);
    if (!job) break;
    claimed.push(job);
    await queue.complete(job, 'w');
    if (stop(claimed)) break;
  }
  return claimed;
}

describeEachEngine('fair claiming', ({ fresh }) => {
  it('a job of connection B enqueued behind a backlog of 500 on connection A is claimed within 2 claims', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    await backlog(store, queue, 'conn-a', 500);
    // A worker is part-way through A's backlog when B's job arrives.
    const first = await drain(queue, (c) => c.length === 50);
    expect(first.every((j) => j.partition === 'conn-a')).toBe(true);
    const bId = await add(store, queue, { partition: 'conn-b', key: 'b-1' });
    const after = await drain(queue, (c) => c.some((j) => j.id === bId));
    // Today (global id order) B would come after A's remaining 450 jobs.
    expect(after.findIndex((j) => j.id === bId) + 1).toBeLessThanOrEqual(2);
    // And A's backlog continues in its own order.
    const rest = await drain(queue);
    const aOrder = [...first, ...after, ...rest].filter((j) => j.partition === 'conn-a').map((j) => j.id);
    expect(aOrder).toEqual([...aOrder].sort((x, y) => x - y));
    expect(aOrder).toHaveLength(500);
  });

  it('a batch claim gives B a slot in the very next batch, and the partitioner names partitions when the enqueue does not', async () => {
    const { store } = await fresh();
    const queue = createQueue(store, {
      partitioner: (_trx, input) => (input.payload as { conn?: string }).conn ?? null,
    });
    await store.transaction(async (trx) => {
      for (let i = 0; i < 500; i++) await queue.enqueue(trx, { kind: 'work', key: `a-${i}`, payload: { conn: 'A' } });
    });
    const b = await store.transaction((trx) => queue.enqueue(trx, { kind: 'work', key: 'b', payload: { conn: 'B' } }));
    const sys = await store.transaction((trx) => queue.enqueue(trx, { kind: 'sweep', key: 'sys', payload: {} }));
    const batch = await queue.claim('w', 4, 60_000);
    expect(batch.map((j) => j.id)).toEqual(expect.arrayContaining([b.id, sys.id]));
    expect((await queue.getJob(b.id))?.partition).toBe('B');
    expect((await queue.getJob(sys.id))?.partition).toBe('');
  });

  it('two backlogs are served round robin while both last, and each partition in its own id order', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    await backlog(store, queue, 'A', 120);
    await backlog(store, queue, 'B', 60);
    await backlog(store, queue, 'C', 30);
    const order = await drain(queue);
    expect(order).toHaveLength(210);
    // In every prefix of the first 90 claims (all three backlogged), counts differ by at most 1.
    const counts = new Map<string, number>();
    for (const j of order.slice(0, 90)) {
      counts.set(j.partition, (counts.get(j.partition) ?? 0) + 1);
      const v = ['A', 'B', 'C'].map((p) => counts.get(p) ?? 0);
      expect(Math.max(...v) - Math.min(...v)).toBeLessThanOrEqual(1);
    }
    expect(['A', 'B', 'C'].map((p) => counts.get(p))).toEqual([30, 30, 30]);
    for (const p of ['A', 'B', 'C']) {
      const ids = order.filter((j) => j.partition === p).map((j) => j.id);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    }
  });

  it('an idle partition saves up no credit: its later burst interleaves with the backlog instead of passing it', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    await add(store, queue, { partition: 'B', key: 'b-early' });
    await backlog(store, queue, 'A', 400);
    await drain(queue, (c) => c.length === 200); // B's one job and 199 of A's
    await backlog(store, queue, 'B', 100);
    const next = await drain(queue, (c) => c.length === 40);
    const b = next.filter((j) => j.partition === 'B').length;
    expect(b).toBeGreaterThanOrEqual(19);
    expect(b).toBeLessThanOrEqual(21);
  });

  it('keeps per-key FIFO across partitions: a later job of a key never passes an earlier one, whatever its tag', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    await backlog(store, queue, 'A', 60);
    const k1 = await add(store, queue, { partition: 'A', key: 'shared', n: 1 }); // behind A's backlog
    const k2 = await add(store, queue, { partition: 'B', key: 'shared', n: 2 }); // B is idle: an early tag
    const other = await add(store, queue, { partition: 'B', key: 'b-other' });
    const order = (await drain(queue)).map((j) => j.id);
    expect(order.indexOf(other)).toBeLessThan(5);
    expect(order.indexOf(k1)).toBeLessThan(order.indexOf(k2));
    // And never two of one key at once: with k1 running, k2 is not claimable.
    const k3 = await add(store, queue, { partition: 'A', key: 'again', n: 1 });
    const k4 = await add(store, queue, { partition: 'B', key: 'again', n: 2 });
    const [c1] = await queue.claim('w', 1, 60_000);
    expect(c1?.id).toBe(k3);
    expect(await queue.claim('w', 4, 60_000)).toEqual([]);
    await queue.complete(c1!, 'w');
    expect((await queue.claim('w', 4, 60_000)).map((j) => j.id)).toEqual([k4]);
  });

  it('a coalesced enqueue keeps the job in its place; a retry and a deferral go behind their partition', async () => {
    const { store } = await fresh();
    const queue = createQueue(store, { backoff: { baseMs: 1, capMs: 1 } });
    await backlog(store, queue, 'A', 10);
    const first = (await queue.listJobs({ partition: 'A' })).at(-1)!;
    const merged = await store.transaction((trx) =>
      queue.enqueue(trx, { kind: 'work', key: first.key, partition: 'A', coalesceKey: 'x', payload: {} }),
    );
    // No coalesce key on the backlog job: a new job (per-key FIFO); later ones coalesce into it.
    const tag = (await queue.getJob(merged.id))!.fairSeq;
    await backlog(store, queue, 'B', 5);
    const again = await store.transaction((trx) =>
      queue.enqueue(trx, { kind: 'work', key: first.key, partition: 'A', coalesceKey: 'x', payload: { v: 2 } }),
    );
    expect(again).toEqual({ id: merged.id, coalesced: true });
    expect((await queue.getJob(merged.id))?.fairSeq).toBe(tag);

    const [job] = await queue.claim('w', 1, 60_000);
    expect(job?.id).toBe(first.id);
    expect(await queue.fail(job!, 'w', new AppError('JIRA_UNAVAILABLE', 'try later', { retryable: true }))).toBe(
      'retry',
    );
    const retried = (await queue.getJob(first.id))!;
    const tags = (await queue.listJobs({ partition: 'A', state: 'queued' })).map((j) => j.fairSeq);
    expect(retried.fairSeq).toBe(Math.max(...tags));

    const [second] = await queue.claim('w', 1, 60_000);
    expect(await queue.defer(second!, 'w', 60_000)).toBe(true);
    const deferred = (await queue.getJob(second!.id))!;
    expect(deferred).toMatchObject({ state: 'queued', attempts: 0, leaseOwner: null });
    expect(deferred.runAt).toBeGreaterThan(Date.now() + 30_000);
  });

  it('a job parked on its connection’s budget lends its worker slot: another connection’s job runs meanwhile, at most concurrency extra', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    // One slot. S's jobs park (as a call waiting for its connection's token does) until let go.
    const letGo: Array<() => void> = [];
    const events: string[] = [];
    let running = 0;
    let most = 0;
    const worker = startWorker({
      store,
      queue,
      concurrency: 1,
      pollMs: 50,
      handlers: {
        work: async (job, ctx) => {
          running++;
          most = Math.max(most, running);
          events.push(`run:${job.key}`);
          if (job.partition === 'S') {
            ctx.park?.(true);
            await new Promise<void>((r) => letGo.push(r));
            ctx.park?.(false);
          }
          events.push(`done:${job.key}`);
          running--;
        },
      },
    });
    try {
      await add(store, queue, { partition: 'S', key: 's-1' });
      await waitFor(() => letGo.length === 1, 's-1 parked');
      // With s-1 parked, the worker's one slot is lent: Q's job runs and ends before s-1 does.
      const q1 = await add(store, queue, { partition: 'Q', key: 'q-1' });
      await waitFor(async () => (await queue.getJob(q1))?.state === 'done', 'q-1 done while s-1 is parked');
      expect(events).toEqual(['run:s-1', 'run:q-1', 'done:q-1']);
      // Parked jobs lend at most `concurrency` slots: s-2 parks in the lent slot, s-3 waits its turn.
      await add(store, queue, { partition: 'S', key: 's-2' });
      await add(store, queue, { partition: 'S', key: 's-3' });
      await waitFor(() => letGo.length === 2, 's-2 parked');
      const q2 = await add(store, queue, { partition: 'Q', key: 'q-2' });
      // Nothing else starts while two jobs hold the slot and its one loan (checked after a claim ran).
      await waitFor(async () => (await queue.listJobs({ state: 'queued', limit: 10 })).length === 2, 's-3, q-2 queued');
      await new Promise((r) => setImmediate(r));
      expect(events.filter((e) => e.startsWith('run:'))).toEqual(['run:s-1', 'run:q-1', 'run:s-2']);
      // s-1 resumes and ends: its slot goes to the next due job.
      letGo[0]!();
      await waitFor(() => events.includes('done:s-1'), 's-1 done');
      await waitFor(() => events.filter((e) => e.startsWith('run:')).length === 4, 'the next job started');
      for (const r of letGo) r();
      await waitFor(async () => (await queue.getJob(q2))?.state === 'done', 'q-2 done');
      await waitFor(() => letGo.length === 3, 's-3 parked');
      for (const r of letGo) r();
      await waitFor(
        async () => (await queue.listJobs({ limit: 10 })).every((j) => j.state === 'done'),
        'all jobs done',
      );
      expect(most).toBe(2);
    } finally {
      await worker.stop({ graceful: false });
    }
  });

  it('a busy connection’s next job is claimable the moment one of its running jobs ends (its held jobs are not put back for a while)', async () => {
    // Put back 250 ms whenever its call slots were all held, a lone busy connection's next job
    // waited out that while after each job ended: bench/outbound.ts ran at a third of its speed
    // (25 → 8 creates a second).
    const t = 1_000_000;
    const { store } = await fresh();
    const queue = createQueue(store, { now: () => t });
    queue.setGate((group, running) => (group === 'A' && running >= 2 ? Infinity : 0));
    await backlog(store, queue, 'A/m1', 50);
    const first = await queue.claim('w', 4, 60_000);
    expect(first).toHaveLength(2);
    // Slots held: the claim takes nothing and leaves A's jobs as they were (due, untouched).
    const running = new Map([['A', 2]]);
    expect(await queue.claim('w', 2, 60_000, { running })).toEqual([]);
    const queued = await queue.listJobs({ partition: 'A/m1', state: 'queued', limit: 100 });
    expect(queued.every((j) => j.runAt <= t)).toBe(true);
    // One ends, at the same instant: its successor is claimed at once.
    await queue.complete(first[0]!, 'w');
    const next = await queue.claim('w', 2, 60_000, { running: new Map([['A', 1]]) });
    expect(next).toHaveLength(1);
    expect(next[0]!.partition).toBe('A/m1');
  });

  it('one connection holds at most half a worker’s slots: however long its jobs take, another connection’s job finds a slot', async () => {
    // A slow Jira site (5 s a call, measured by a reviewer): its 40 jobs took all 4 slots and a
    // quiet customer's change waited ~8.4 s instead of ~0.2 s.
    const { store } = await fresh();
    const queue = createQueue(store);
    queue.setGate(() => 0);
    const letGo: Array<() => void> = [];
    const running = new Map<string, number>();
    let mostSlow = 0;
    const worker = startWorker({
      store,
      queue,
      concurrency: 4,
      pollMs: 50,
      handlers: {
        work: async (job) => {
          const g = job.partition.split('/')[0]!;
          running.set(g, (running.get(g) ?? 0) + 1);
          if (g === 'slow') {
            mostSlow = Math.max(mostSlow, running.get(g)!);
            await new Promise<void>((r) => letGo.push(r));
          }
          running.set(g, running.get(g)! - 1);
        },
      },
    });
    try {
      await backlog(store, queue, 'slow/m1', 40);
      await waitFor(() => letGo.length === 2, 'two slow jobs running');
      const q = await add(store, queue, { partition: 'quiet/m1', key: 'q-1' });
      await waitFor(
        async () => (await queue.getJob(q))?.state === 'done',
        'the quiet job done while the slow ones run',
      );
      expect(letGo).toHaveLength(2);
      expect(mostSlow).toBe(2);
      // The slow connection goes on, two at a time.
      while ((await queue.listJobs({ partition: 'slow/m1', state: 'done', limit: 100 })).length < 40) {
        letGo.splice(0).forEach((r) => r());
        await waitFor(
          async () =>
            letGo.length > 0 ||
            (await queue.listJobs({ partition: 'slow/m1', state: 'done', limit: 100 })).length === 40,
          'the next slow jobs',
        );
      }
      expect(mostSlow).toBe(2);
    } finally {
      letGo.forEach((r) => r());
      await worker.stop({ graceful: false });
    }
  });

  it('a worker defers the jobs of a gated partition (no attempt spent) and runs the others meanwhile', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    let stormUntil = Date.now() + 3_600_000;
    queue.setGate((group) => (group === 'storm' ? stormUntil - Date.now() : 0));
    await backlog(store, queue, 'storm', 200);
    await backlog(store, queue, 'calm', 20);
    const ran: Job[] = [];
    const deferred: Job[] = [];
    const worker = startWorker({
      store,
      queue,
      handlers: {
        work: async (job) => {
          ran.push(job);
        },
      },
      concurrency: 2,
      pollMs: 50,
      onDefer: (job) => deferred.push(job),
    });
    try {
      await waitFor(() => ran.length === 20, 'the calm partition ran');
      // Every calm job ran though 200 storm jobs were queued first; each storm job was taken at
      // most once (deferred an hour, not spun on).
      expect(ran.every((j) => j.partition === 'calm')).toBe(true);
      // The workers go on taking storm jobs and putting them back: once each of the 200 has been
      // put back (a job claimed this instant is 'running' until then), none is left in a worker.
      await waitFor(() => deferred.length >= 200, 'every storm job was put back');
      expect(deferred.length).toBe(200);
      expect(new Set(deferred.map((j) => j.id)).size).toBe(deferred.length);
      const storm = await queue.listJobs({ partition: 'storm', limit: 1000 });
      expect(storm.every((j) => j.state === 'queued' && j.attempts === 0)).toBe(true);
      // The storm ends: the deferred jobs are due again and run.
      stormUntil = 0;
      await store.db.updateTable('jobs').set({ run_at: Date.now() }).where('partition', '=', 'storm').execute();
      queue.notify();
      await waitFor(() => ran.length === 220, 'the storm partition ran after its pause');
    } finally {
      await worker.stop();
    }
  });

  it('a group without budget for one more job is passed over: the worker takes another group’s due job instead of waiting', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    // Connection A may run one job at a time here (its call slots), B any number.
    queue.setGate((group, running) => (group === 'A' && running >= 1 ? Number.POSITIVE_INFINITY : 0));
    await backlog(store, queue, 'A/m1', 30);
    await backlog(store, queue, 'A/m2', 30);
    await backlog(store, queue, 'B/m1', 5);
    let releaseA!: () => void;
    const holdA = new Promise<void>((r) => (releaseA = r));
    let runningA = 0;
    let maxRunningA = 0;
    const ran: Job[] = [];
    const worker = startWorker({
      store,
      queue,
      handlers: {
        work: async (job) => {
          if (job.partition.startsWith('A/')) {
            runningA++;
            maxRunningA = Math.max(maxRunningA, runningA);
            await holdA;
            runningA--;
          }
          ran.push(job);
        },
      },
      concurrency: 3,
      pollMs: 20,
    });
    try {
      // A's first job holds a slot (and A's budget); B's five jobs all run meanwhile on the others.
      await waitFor(() => ran.filter((j) => j.partition === 'B/m1').length === 5, 'B’s jobs ran');
      expect(ran.filter((j) => j.partition.startsWith('A/'))).toHaveLength(0);
      releaseA();
      await waitFor(() => ran.length === 65, 'A’s jobs ran once it had budget');
    } finally {
      releaseA();
      await worker.stop();
    }
    // Across both of A's mappings never more than its one job at a time; nothing spent an attempt twice.
    expect(maxRunningA).toBe(1);
    const jobs = await queue.listJobs({ limit: 1000 });
    expect(jobs.every((j) => j.state === 'done' && j.attempts === 1)).toBe(true);
  });

  it('a connection whose call slots are all held does not hide another connection’s job behind its deep backlog', async () => {
    // Measured in bench/tenants.ts: after a 429 storm's jobs were put back, a quiet tenant's change
    // enqueued meanwhile took its start tag after theirs; once they were due again with their call
    // slots held (an infinite wait), they filled every claim's scan window and the quiet job
    // waited ~70 s. Jobs whose slots are held are put back briefly too, so the claims go past them.
    let t = 1_000_000;
    const { store } = await fresh();
    const queue = createQueue(store, { now: () => t });
    const pausedUntil = t + 1_000;
    queue.setGate((group, running) =>
      group !== 'A' ? 0 : t < pausedUntil ? pausedUntil - t : running >= 1 ? Infinity : 0,
    );
    await backlog(store, queue, 'A/m1', 200);
    // A is paused (a 429): every claim passes its jobs over until none is due.
    for (let i = 0; i < 20; i++) expect(await queue.claim('w', 1, 60_000)).toEqual([]);
    t += 10;
    const bId = await add(store, queue, { partition: 'B/m1', key: 'b-1' });
    // A's pause is over, and the worker already runs one of A's jobs (all its call slots held).
    t = pausedUntil;
    const running = new Map([['A', 1]]);
    const claimed: Job[] = [];
    for (let i = 0; i < 10 && !claimed.some((j) => j.id === bId); i++)
      claimed.push(...(await queue.claim('w', 1, 60_000, { running })));
    expect(claimed.map((j) => j.partition)).toEqual(['B/m1']);
    // A's jobs were not claimed, spent no attempt, and are due again shortly.
    const a = (await queue.listJobs({ limit: 1000 })).filter((j) => j.partition === 'A/m1');
    expect(a.every((j) => j.state === 'queued' && j.attempts === 0)).toBe(true);
  });

  it('a newcomer takes the head of a put-back backlog as its start tag, not its tail', async () => {
    // Measured in bench/tenants.ts: the virtual time was the smallest tag among *due* jobs; with a
    // storm tenant's first jobs put back (not due) and its later ones due, a quiet tenant's change
    // took a tag deep in the storm's backlog and waited behind it once the storm had budget again.
    let t = 1_000_000;
    const { store } = await fresh();
    const queue = createQueue(store, { now: () => t });
    let pausedUntil = t + 1_000;
    queue.setGate((group) => (group === 'S' && t < pausedUntil ? pausedUntil - t : 0));
    await backlog(store, queue, 'S/m1', 200);
    // S is paused (a 429): one claim puts its first jobs back until the pause ends; the rest stay due.
    expect(await queue.claim('w', 1, 60_000)).toEqual([]);
    const s = await queue.listJobs({ partition: 'S/m1', limit: 1000 });
    expect(s.filter((j) => j.runAt > t).length).toBeGreaterThan(0);
    expect(s.filter((j) => j.runAt <= t).length).toBeGreaterThan(0);
    const qId = await add(store, queue, { partition: 'Q/m1', key: 'q-1' });
    const q = (await queue.getJob(qId))!;
    expect(q.fairSeq).toBeLessThanOrEqual(Math.min(...s.map((j) => j.fairSeq)));
    // The pause ends: Q's job is the next claim, not the 30-odd put-back jobs' successor.
    pausedUntil = t;
    t += 2_000;
    const claimed = await drain(queue, (c) => c.some((j) => j.id === qId), 10);
    expect(claimed.findIndex((j) => j.id === qId) + 1).toBeLessThanOrEqual(2);
  });

  it('one claim reaches past a held backlog deeper than its scan window to another group’s due job', async () => {
    // A group without budget whose due jobs fill the claim's window (their tags earlier than the
    // other group's job, all due again after being put back) used to hide the other group's job
    // until enough of them were served; a later pass of the same claim leaves that group out.
    const t = 1_000_000;
    const { store } = await fresh();
    const queue = createQueue(store, { now: () => t });
    queue.setGate((group) => (group === 'S' ? Infinity : 0));
    await backlog(store, queue, 'S/m1', 200);
    const qId = await add(store, queue, { partition: 'Q/m1', key: 'q-1' });
    const s = await queue.listJobs({ partition: 'S/m1', limit: 1000 });
    const behind = [...s.map((j) => j.fairSeq)].sort((a, b) => a - b)[150]!;
    await store.db.updateTable('jobs').set({ fair_seq: behind }).where('id', '=', qId).execute();
    const claimed = await queue.claim('w', 1, 60_000);
    expect(claimed.map((j) => j.id)).toEqual([qId]);
    // S's jobs seen were put back briefly (no attempt), the rest untouched and still queued.
    const after = await queue.listJobs({ partition: 'S/m1', limit: 1000 });
    expect(after.every((j) => j.state === 'queued' && j.attempts === 0)).toBe(true);
  });

  it('reports queue depth per partition on /metrics with a bounded label set (20 deepest and *other*)', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    for (let p = 0; p < 25; p++) await backlog(store, queue, `conn-${String(p).padStart(2, '0')}`, p + 1);
    await add(store, queue, { partition: '', key: 'sys' });
    const metrics = createMetrics({ defaultMetrics: false, queueStats: () => queue.stats() });
    const text = await metrics.render();
    const lines = text
      .split('\n')
      .filter((l) => l.startsWith('jira_bridge_queue_partition_jobs{') && l.includes('ready="true"'));
    expect(lines).toHaveLength(21);
    expect(text).toContain('jira_bridge_queue_partition_jobs{partition="conn-24",ready="true"} 25');
    // The 6 shallowest (conn-00..conn-04 and the system partition): 1+2+3+4+5+1 jobs.
    expect(text).toContain('jira_bridge_queue_partition_jobs{partition="*other*",ready="true"} 16');
    expect(text).toMatch(/jira_bridge_queue_partition_oldest_job_age_seconds\{partition="conn-24"\} \d/);
  });
});

describe('fair claiming: the migration', () => {
  it('is registered as 008_fair_queue', async () => {
    const { MIGRATION_NAMES } = await import('../../src/store/migrations/index.js');
    expect(MIGRATION_NAMES).toContain('008_fair_queue');
  });
});
