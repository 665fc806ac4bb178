import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { demoOpsMapping } from '../../src/engine/demo-mappings.js';
import { createEngine } from '../../src/engine/engine.js';
import { jiraPortFromClient } from '../../src/engine/jira-port.js';
import { staticMappingSource } from '../../src/engine/mapping-source.js';
import type { JiraPort } from '../../src/engine/types.js';
import { createJiraClient } from '../../src/jira/client.js';
import { dropPacer, pausedForMs } from '../../src/jira/pacer.js';
import { createQueue, startWorker, type Job, type JobHandler } from '../../src/queue/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { describeEachEngine } from '../helpers/db.js';
import { waitFor } from './helpers.js';

/**
 * Isolation (issue 17): one customer's Jira in a 429 storm holds no worker and delays no other
 * customer's job by more than a few claims. Two real sandboxes (two Jira sites), one connection
 * and mapping each, the real engine and worker; asserted on claim order and counts, not on time.
 */
describeEachEngine('isolation across connections', ({ fresh }) => {
  it('a connection in a 429 storm has its jobs deferred (no attempt spent) while another connection’s jobs run', async () => {
    const { store } = await fresh();
    const storm = await startSandbox({ flavour: 'cloud', port: 0 });
    const calm = await startSandbox({ flavour: 'cloud', port: 0 });
    const dataDir = mkdtempSync(join(tmpdir(), 'jb-isolation-'));
    const conn = (id: string, sb: typeof storm) => ({
      id,
      siteUrl: sb.baseUrl,
      flavour: 'cloud' as const,
      auth: { type: 'basic' as const, email: sb.credentials.email, apiToken: sb.credentials.apiToken },
    });
    const ids = { storm: `storm-${process.pid}-${Date.now()}`, calm: `calm-${process.pid}-${Date.now()}` };
    try {
      const ports: Record<string, JiraPort> = {
        [ids.storm]: jiraPortFromClient(createJiraClient(conn(ids.storm, storm)), { searchLagMs: 0 }),
        [ids.calm]: jiraPortFromClient(createJiraClient(conn(ids.calm, calm)), { searchLagMs: 0 }),
      };
      const mappings = staticMappingSource(
        [
          demoOpsMapping(ids.storm, { id: 'm-storm', scope: 'storm-incidents' }),
          demoOpsMapping(ids.calm, { id: 'm-calm', scope: 'calm-incidents' }),
        ],
        [
          { id: ids.storm, name: 'storm', flavour: 'cloud', siteUrl: storm.baseUrl },
          { id: ids.calm, name: 'calm', flavour: 'cloud', siteUrl: calm.baseUrl },
        ],
      );
      const queue = createQueue(store, { backoff: { baseMs: 5, capMs: 100 } });
      const engine = createEngine({ store, queue, mappings, jira: (id) => ports[id]!, dataDir, pauseRetryMs: 50 });

      // The storm: the site's bucket is spent and never refills; Jira answers 429 with
      // Retry-After 60 s, and the connection's pacer (shared by every client of it) pauses.
      storm.knobs.set({ rateLimit: { capacity: 1, refillPerSecond: 0 } });
      const probe = createJiraClient(conn(ids.storm, storm), { maxRetries: 0 });
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
      dropPacer(ids.storm);
      dropPacer(ids.calm);
      await storm.close();
      await calm.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
