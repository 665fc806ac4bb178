import { expect, it } from 'vitest';
import { createEngine, type EngineDeps } from '../../src/engine/engine.js';
import { createQueue, startWorker, type Job, type JobHandler, type Queue } from '../../src/queue/index.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/wait.js';
import { drainBucket } from '../engine/harness.js';
import { twoSites } from './two-sites.js';

/**
 * Two customers (connections A and B, each on its own sandbox site), the real engine and worker.
 * What a worker did is recorded in order: each handler run, each put-back (outcome `deferred`,
 * the worker's own, after the job started) and each end; asserted on that order, not on time.
 */
async function twoTenants(
  db: TestDb,
  opts: { pauseRetryMs?: number; hooks?: EngineDeps['hooks']; now?: () => number } = {},
) {
  const tag = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;
  const sites = await twoSites(['a', 'b'], tag, 'jb-put-back-');
  const { a, b } = sites.site;
  const { ids, mappings, dataDir } = sites;
  const queue: Queue = createQueue(db.store, {
    backoff: { baseMs: 5, capMs: 100 },
    ...(opts.now ? { now: opts.now } : {}),
  });
  const engine = createEngine({
    store: db.store,
    queue,
    mappings,
    jira: sites.jira,
    dataDir,
    pauseRetryMs: opts.pauseRetryMs ?? 50,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const events: Array<{ what: 'run' | 'deferred' | 'done' | 'retry' | 'claim-deferred'; job: Job }> = [];
  const handlers: Record<string, JobHandler> = {};
  for (const [kind, h] of Object.entries(engine.handlers)) {
    handlers[kind] = (job, ctx) => {
      events.push({ what: 'run', job });
      return h(job, ctx);
    };
  }
  const isA = (j: Job) => j.partition.startsWith(`${ids.a}/`);
  const worker = (concurrency: number) =>
    startWorker({
      store: db.store,
      queue,
      handlers,
      concurrency,
      pollMs: 20,
      leaseMs: 30_000,
      // A job passed over by the claim is told of here too, but never ran (no 'run' before it).
      onDefer: (job) => {
        if (!events.some((e) => e.what === 'run' && e.job.id === job.id && e.job.attempts === job.attempts))
          events.push({ what: 'claim-deferred', job });
      },
      onOutcome: (job, outcome) => {
        if (outcome === 'deferred' || outcome === 'done' || outcome === 'retry') events.push({ what: outcome, job });
      },
    });
  const incident = (scope: string, hostId: string) =>
    engine.records.upsertRecord({ scope, hostId, kind: 'incident', title: hostId, status: 'new', severity: 'P3' });
  return {
    a,
    b,
    ids,
    queue,
    engine,
    events,
    isA,
    worker,
    incident,
    close: sites.close,
  };
}

/**
 * Mid-job budget loss (issue 17): a job admitted with budget that meets a 429 in the middle gives
 * its worker slot back at once — put back until Jira's Retry-After, no attempt spent — instead of
 * waiting on its connection's pacer, and the worker takes another customer's due job meanwhile.
 * Its call was never sent; the re-run finds what the first run did (the created issue) and
 * finishes: one issue, one comment.
 */
describeEachEngine('a job that loses its Jira budget mid-job', ({ fresh }) => {
  it('is put back (no attempt spent, lease released) and its worker runs another connection’s job meanwhile; the record converges once', async () => {
    const db = await fresh();
    let stormed = false;
    const tenants: { t?: Awaited<ReturnType<typeof twoTenants>> } = {};
    const t = (tenants.t = await twoTenants(db, {
      hooks: {
        // Jira created A's issue; now A's site goes into a storm: one call every 2 s, its one
        // token spent by another client, so the job's next call (its comment) meets a 429.
        async afterCreate(recordId) {
          const { engine, a } = tenants.t!;
          const r = await engine.records.getRecord('a-incidents', 'A-1');
          if (stormed || r.id !== recordId) return;
          stormed = true;
          a.knobs.set({ rateLimit: { capacity: 1, refillPerSecond: 0.5 } });
          await drainBucket(a, 1);
        },
      },
    }));
    try {
      // A's record (with a comment) first, then B's two: with one worker slot, A's job is claimed first.
      await t.incident('a-incidents', 'A-1');
      await t.engine.records.addComment('a-incidents', 'A-1', { author: 'ops', body: 'note 1', hostCommentId: 'n1' });
      await t.incident('b-incidents', 'B-1');
      await t.incident('b-incidents', 'B-2');
      const w = t.worker(1);
      try {
        await until(
          'B’s jobs done while A’s waits',
          () =>
            t.events.some((e) => e.what === 'deferred') &&
            t.events.filter((e) => e.what === 'done' && !t.isA(e.job)).length >= 2,
        );
        // The storm ends; A's job completes after its put-back.
        t.a.knobs.set({ rateLimit: null });
        await until(
          'all jobs done',
          async () => (await t.queue.listJobs({ limit: 50 })).every((j) => j.state === 'done'),
          60_000,
        );
      } finally {
        await w.stop({ graceful: false });
      }
      const order = t.events.map((e) => `${e.what}:${t.isA(e.job) ? 'A' : 'B'}`);
      // A ran first, met the 429 and was put back by its worker (not failed, not retried)...
      expect(order[0]).toBe('run:A');
      expect(order[1], order.join(' ')).toBe('deferred:A');
      expect(order).not.toContain('retry:A');
      // ...and the one slot went straight to B's due jobs while A waited for the Retry-After.
      const firstPutBack = order.indexOf('deferred:A');
      expect(order[firstPutBack + 1], order.join(' ')).toBe('run:B');
      const aRunsAgain = order.indexOf('run:A', firstPutBack);
      expect(order.slice(firstPutBack, aRunsAgain === -1 ? undefined : aRunsAgain)).toContain('done:B');
      // A put-back is not an attempt: each job's attempts are its runs minus its put-backs.
      const jobs = await t.queue.listJobs({ limit: 50 });
      for (const j of jobs) {
        const runs = t.events.filter((e) => e.what === 'run' && e.job.id === j.id).length;
        const putBacks = t.events.filter((e) => e.what === 'deferred' && e.job.id === j.id).length;
        expect(j.attempts, `job ${j.id}`).toBe(runs - putBacks);
        expect(j.leaseOwner, `job ${j.id}`).toBeNull();
      }
      const aJob = jobs.find(t.isA)!;
      expect(aJob.attempts).toBe(1);
      expect(aJob.lastError).toBeNull();
      // The record converged exactly once: one issue, its comment once, synced.
      const r = await t.engine.records.getRecord('a-incidents', 'A-1');
      expect(r.sync).toMatchObject({ state: 'synced', error: null });
      const issues = t.a.state.allIssues().filter((i) => i.summary === 'A-1');
      expect(issues).toHaveLength(1);
      expect(issues[0]!.key).toBe(r.link!.issue_key);
      const notes = issues[0]!.comments.filter((c) => JSON.stringify(c.body).includes('note 1'));
      expect(notes).toHaveLength(1);
      // Each refused call (429) put its job back at once; none was retried into the pause.
      const putBacksOfA = t.events.filter((e) => e.what === 'deferred' && t.isA(e.job)).length;
      expect(t.a.calls.count({ status: 429 })).toBeGreaterThanOrEqual(1);
      expect(t.a.calls.count({ status: 429 })).toBeLessThanOrEqual(putBacksOfA);
    } finally {
      await t.close();
    }
  }, 120_000);
});

/**
 * Rejected credentials (401) pause a connection (src/engine/engine.ts, health): its jobs are not
 * claimed until its next probe is due — put back then, holding no worker, spending no attempt —
 * and the probe that finds the credentials fixed resumes the others. The probe schedule is the
 * engine's and the queue's clock, moved forward here instead of waited for.
 */
describeEachEngine('a connection paused for rejected credentials', ({ fresh }) => {
  it('is not claimed until its probe is due: its jobs wait queued (no attempt) while another connection’s run; the probe resumes them', async () => {
    const db = await fresh();
    let offset = 0;
    const now = () => Date.now() + offset;
    const t = await twoTenants(db, { pauseRetryMs: 60_000, now });
    try {
      t.a.knobs.set({ expiredAuth: true });
      await t.incident('a-incidents', 'A-0');
      const w = t.worker(2);
      try {
        // A's first job meets the 401: the connection is paused, the job waits for the probe.
        await until('A paused', () => t.engine.connectionHealth()[t.ids.a]?.healthy === false);
        await until('A-0’s job back in the queue', () => t.events.some((e) => e.what === 'retry' && t.isA(e.job)));
        const calls401 = t.a.calls.count({ status: 401 });
        // More work for both while A is paused.
        for (let i = 1; i <= 3; i++) await t.incident('a-incidents', `A-${i}`);
        for (let i = 1; i <= 3; i++) await t.incident('b-incidents', `B-${i}`);
        await until('B’s jobs done', () => t.events.filter((e) => e.what === 'done' && !t.isA(e.job)).length === 3);
        await until(
          'A’s new jobs passed over by the claim',
          () =>
            new Set(t.events.filter((e) => e.what === 'claim-deferred' && t.isA(e.job)).map((e) => e.job.id)).size ===
            3,
        );
        // None of A's jobs ran again: no attempt spent, no call made, all of them queued until the probe.
        expect(t.events.filter((e) => e.what === 'run' && t.isA(e.job))).toHaveLength(1);
        const waiting = (await t.queue.listJobs({ limit: 50 })).filter(t.isA);
        expect(waiting).toHaveLength(4);
        const ran = new Set(t.events.filter((e) => e.what === 'run').map((e) => e.job.id));
        for (const j of waiting) {
          expect(j.state, `job ${j.id}`).toBe('queued');
          expect(j.attempts, `job ${j.id}`).toBe(ran.has(j.id) ? 1 : 0);
          expect(j.runAt, `job ${j.id}`).toBeGreaterThan(now() + 30_000);
        }
        expect(waiting.filter((j) => j.attempts === 0)).toHaveLength(3);
        expect(t.a.calls.count({ status: 401 })).toBe(calls401);
        // Their records say why they wait, as when their handlers failed fast (the host is told once).
        for (let i = 0; i <= 3; i++)
          await until(`A-${i} marked as waiting on the credentials`, async () => {
            const r = await t.engine.records.getRecord('a-incidents', `A-${i}`);
            return r.sync.state === 'pending' && r.sync.error?.code === 'JIRA_UNAUTHORIZED';
          });

        // The credentials are fixed; the probe schedule comes round (the clock moves 61 s on).
        t.a.knobs.set({ expiredAuth: false });
        offset += 61_000;
        t.queue.notify();
        await until(
          'all jobs done',
          async () => (await t.queue.listJobs({ limit: 50 })).every((j) => j.state === 'done'),
          60_000,
        );
      } finally {
        await w.stop({ graceful: false });
      }
      expect(t.engine.connectionHealth()[t.ids.a]?.healthy).toBe(true);
      const jobs = await t.queue.listJobs({ limit: 50 });
      for (const j of jobs) {
        const runs = t.events.filter((e) => e.what === 'run' && e.job.id === j.id).length;
        expect(j.attempts, `job ${j.id}`).toBe(runs);
      }
      // The three jobs queued during the pause each ran once, after the probe; each record once in Jira.
      for (let i = 0; i <= 3; i++) {
        expect(
          t.a.state.allIssues().filter((x) => x.summary === `A-${i}`),
          `A-${i}`,
        ).toHaveLength(1);
      }
    } finally {
      await t.close();
    }
  }, 120_000);
});
