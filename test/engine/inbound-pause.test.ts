import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/wait.js';
import { opsMapping, inboundSettings } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

describeEachEngine(
  'inbound: rejected credentials pause the connection; the Jira change waits and is applied after',
  ({ fresh }) => {
    let db: TestDb;
    let h: InboundHarness;

    beforeAll(async () => {
      db = await fresh();
      h = await startInboundHarness(db, {
        pauseRetryMs: 600_000,
        mappings: [
          opsMapping({
            inbound: inboundSettings(),
          }),
        ],
      });
    });
    afterAll(async () => {
      await h.close();
    });

    it('a 401 while reading the issue leaves no dead job and no failed delivery; resume applies the edit', async () => {
      await h.engine.records.upsertRecord({
        scope: 'stackflow-incidents',
        hostId: 'inc-401',
        kind: 'incident',
        title: 'Before the token expired',
        status: 'new',
      });
      await h.settle();
      const key = (await h.record('stackflow-incidents', 'inc-401')).link!.issue_key!;
      h.sandbox.knobs.set({ expiredAuth: true });
      // Alice edits in Jira (in the sandbox directly: the knob rejects every API caller).
      const issue = h.sandbox.state.issue(key)!;
      h.sandbox.ops.editIssue(
        issue,
        { fields: { summary: 'Edited while our token was expired' } },
        h.sandbox.credentials.users.alice!.accountId,
        'wiki',
      );
      const w = h.startWorker(2);
      try {
        await until('the connection paused', () => h.engine.connectionHealth().sandbox?.healthy === false, 5_000);
        expect(h.engine.connectionHealth().sandbox).toMatchObject({ healthy: false });
        await until('the inbound job back in the queue, no job running', async () => {
          const jobs = await db.store.db.selectFrom('jobs').select(['kind', 'state']).execute();
          return (
            !jobs.some((j) => j.state === 'running') &&
            jobs.some((j) => j.kind === 'inbound.issue' && j.state === 'queued')
          );
        });
      } finally {
        await w.stop();
      }
      const jobs = await db.store.db.selectFrom('jobs').select(['kind', 'state']).execute();
      expect(jobs.filter((j) => j.state === 'dead')).toEqual([]);
      expect(jobs.some((j) => j.kind === 'inbound.issue' && j.state === 'queued')).toBe(true);
      const verdicts = await db.store.db.selectFrom('webhook_deliveries').select('verdict').execute();
      expect(verdicts.filter((v) => v.verdict === 'failed')).toEqual([]);
      expect((await h.record('stackflow-incidents', 'inc-401')).title).toBe('Before the token expired');

      h.sandbox.knobs.set({ expiredAuth: false });
      await h.engine.resumeConnection('sandbox');
      await h.settle();
      expect((await h.record('stackflow-incidents', 'inc-401')).title).toBe('Edited while our token was expired');
      expect(h.engine.connectionHealth().sandbox?.healthy ?? true).toBe(true);
    });
  },
);
