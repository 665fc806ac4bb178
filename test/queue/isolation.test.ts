import { expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { createJiraClient } from '../../src/jira/client.js';
import { pausedForMs } from '../../src/jira/pacer.js';
import { createQueue, startWorker, type Job, type JobHandler } from '../../src/queue/index.js';
import { describeEachEngine } from '../helpers/db.js';
import { waitFor } from './helpers.js';
import { twoSites } from './two-sites.js';

/**
 * Isolation (issue 17): one customer's Jira in a 429 storm holds no worker and delays no other
 * customer's job by more than a few claims. Two real sandboxes (two Jira sites), one connection
 * and mapping each, the real engine and worker; asserted on claim order and counts, not on time.
 */
describeEachEngine('isolation across connections', ({ fresh }) => {
  it('a connection in a 429 storm has its jobs deferred (no attempt spent) while another connection’s jobs run', async () => {
    const { store } = await fresh();
    const sites = await twoSites(['storm', 'calm'], `${process.pid}-${Date.now()}`, 'jb-isolation-');
    const { storm, calm } = sites.site;
    const { ids, mappings, dataDir } = sites;
    try {
      const queue = createQueue(store, { backoff: { baseMs: 5, capMs: 100 } });
      const engine = createEngine({ store, queue, mappings, jira: sites.jira, dataDir, pauseRetryMs: 50 });

      // The storm: the site's bucket is spent and never refills; Jira answers 429 with
      // Retry-After 60 s, and the connection's pacer (shared by every client of it) pauses.
      storm.knobs.set({ rateLimit: { capacity: 1, refillPerSecond: 0 } });
      const probe = createJiraClient(sites.conn('storm'), { maxRetries: 0 });
      await probe.myself();
      await expect(probe.myself()).rejects.toMatchObject({ code: 'JIRA_RATE_LIMITED' });
      expect(pausedForMs(ids.storm)).toBeGreaterThan(30_000);

      // The storming customer has a backlog of 20 changes; the calm one changes 3 records after.
      const incident = (scope: string, hostId: string) =>
        engine.records.upsertRecord({ scope, hostId, kind: 'incident', title: hostId, status: 'new', severity: 'P3' });
      for (let i = 0; i < 20; i++) await incident('storm-incidents', `S-${i}`);
      for (let i = 0; i < 3; i++) await incident('calm-incidents', `C-${i}`);
      const jobs = await queue.listJobs({ limit: 100 });
      expect(new Set(jobs.map((j) => j.partition))).toEqual(new Set([`${ids.storm}/m-storm`, `${ids.calm}/m-calm`]));

      const claims: Array<{ job: Job; what: 'run' | 'defer' }> = [];
      const done: Job[] = [];
      const handlers: Record<string, JobHandler> = {};
      for (const [kind, h] of Object.entries(engine.handlers)) {
        handlers[kind] = (job, ctx) => {
          claims.push({ job, what: 'run' });
          return h(job, ctx);
        };
      }
      const worker = startWorker({
        store,
        queue,
        handlers,
        concurrency: 2,
        // Both slots open to one connection (the default share is half): the claim order below
        // is about the storm's jobs being passed over, not about the calm connection's share.
        maxPerGroup: 2,
        pollMs: 20,
        leaseMs: 10_000,
        onDefer: (job) => claims.push({ job, what: 'defer' }),
        onOutcome: (job, outcome) => {
          if (outcome === 'done') done.push(job);
        },
      });
      try {
        await waitFor(() => done.filter((j) => j.partition.startsWith(ids.calm)).length === 3, 'the calm jobs done');
      } finally {
        await worker.stop({ graceful: false });
      }
      const isCalm = (c: { job: Job }) => c.job.partition.startsWith(ids.calm);
      // No storm job reached a handler (so none sat on the paused pacer), each was put back once.
      expect(claims.filter((c) => !isCalm(c)).every((c) => c.what === 'defer')).toBe(true);
      expect(claims.filter((c) => !isCalm(c)).length).toBeGreaterThan(0);
      const deferredIds = claims.filter((c) => !isCalm(c)).map((c) => c.job.id);
      expect(new Set(deferredIds).size).toBe(deferredIds.length);
      // Fair claiming interleaves the two partitions: the calm jobs were among the first claims,
      // not behind the storm's 20 (at most one storm claim before each calm one).
      const lastCalm = claims.map(isCalm).lastIndexOf(true);
      expect(lastCalm + 1).toBeLessThanOrEqual(6);
      const stormJobs = await queue.listJobs({ partition: `${ids.storm}/m-storm`, limit: 100 });
      expect(stormJobs).toHaveLength(20);
      expect(stormJobs.every((j) => j.state === 'queued' && j.attempts === 0)).toBe(true);
      expect(stormJobs.filter((j) => deferredIds.includes(j.id)).every((j) => j.runAt > Date.now() + 30_000)).toBe(
        true,
      );
      expect(calm.state.allIssues().length).toBeGreaterThanOrEqual(3);
    } finally {
      await sites.close();
    }
  });
  it.each([1, 2])(
    'a paced 429 storm on connection A (Retry-After) holds no worker: B’s jobs are done while A’s wait, with %i worker slot(s); A’s put-backs spend no attempt and all of A’s jobs complete after the storm',
    async (slots) => {
      const { store } = await fresh();
      const sites = await twoSites(['a', 'b'], `${process.pid}-${Date.now()}-${slots}`, 'jb-isolation-');
      const { a, b } = sites.site;
      const { ids, mappings, dataDir } = sites;
      try {
        const queue = createQueue(store, { backoff: { baseMs: 5, capMs: 100 } });
        const engine = createEngine({ store, queue, mappings, jira: sites.jira, dataDir, pauseRetryMs: 50 });

        // A's site is in a storm: one call every 5 s, else 429 with Retry-After (≤ 5 s). Its
        // bucket is spent by another client of the connection, so A's pacer is paced, not idle.
        a.knobs.set({ rateLimit: { capacity: 1, refillPerSecond: 0.2 } });
        const probe = createJiraClient(sites.conn('a'), { maxRetries: 0 });
        await probe.myself();
        await expect(probe.myself()).rejects.toMatchObject({ code: 'JIRA_RATE_LIMITED' });
        expect(pausedForMs(ids.a)).toBeGreaterThan(0);

        const incident = (scope: string, hostId: string) =>
          engine.records.upsertRecord({
            scope,
            hostId,
            kind: 'incident',
            title: hostId,
            status: 'new',
            severity: 'P3',
          });
        for (let i = 0; i < 6; i++) await incident('a-incidents', `A-${i}`);
        for (let i = 0; i < 2; i++) await incident('b-incidents', `B-${i}`);

        const ran = new Map<number, number>(); // job id → handler runs
        const done: Job[] = [];
        const deferredA = new Set<number>();
        const handlers: Record<string, JobHandler> = {};
        for (const [kind, h] of Object.entries(engine.handlers)) {
          handlers[kind] = (job, ctx) => {
            ran.set(job.id, (ran.get(job.id) ?? 0) + 1);
            return h(job, ctx);
          };
        }
        const isA = (j: Job) => j.partition.startsWith(`${ids.a}/`);
        const worker = startWorker({
          store,
          queue,
          handlers,
          concurrency: slots,
          pollMs: 20,
          leaseMs: 30_000,
          onDefer: (job) => {
            if (isA(job)) deferredA.add(job.id);
          },
          onOutcome: (job, outcome) => {
            if (outcome === 'done') done.push(job);
          },
        });
        try {
          await waitFor(() => done.filter((j) => !isA(j)).length === 2, 'B’s jobs done', 60_000);
          // B's jobs were done while A's still waited for the storm's budget.
          expect(done.filter(isA).length).toBeLessThan(6);
          expect(deferredA.size).toBeGreaterThan(0);
          // The storm ends; every job of A completes, once.
          a.knobs.set({ rateLimit: null });
          await waitFor(() => done.filter(isA).length === 6, 'A’s jobs done after the storm', 60_000);
        } finally {
          await worker.stop({ graceful: false });
        }
        // A put-back is not an attempt: each job's attempts are the times its handler ran.
        const all = await queue.listJobs({ limit: 100 });
        for (const j of all) expect(j.attempts, `job ${j.id}`).toBe(ran.get(j.id) ?? 0);
        expect(all.filter((j) => j.state !== 'done')).toEqual([]);
        const aIssues = a.state.allIssues().map((i) => i.summary);
        for (let i = 0; i < 6; i++)
          expect(
            aIssues.filter((s) => s === `A-${i}`),
            `A-${i}`,
          ).toHaveLength(1);
        expect(b.state.allIssues().length).toBeGreaterThanOrEqual(2);
      } finally {
        await sites.close();
      }
    },
    120_000,
  );
});
