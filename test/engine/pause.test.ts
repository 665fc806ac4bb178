import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { issuesOf, startHarness, type Harness } from './harness.js';

describe('a connection whose credentials fail stops spending calls and resumes without losing work', () => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, { pauseRetryMs: 600_000 });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  it('one 401 pauses the connection: later jobs wait without calling Jira; resume syncs them all', async () => {
    h.sandbox.knobs.set({ expiredAuth: true });
    const w = h.startWorker(2);
    try {
      for (let n = 0; n < 5; n++) {
        await h.engine.records.upsertRecord({
          scope: 'stackflow-incidents',
          hostId: `p-${n}`,
          kind: 'incident',
          title: `Paused ${n}`,
          status: 'new',
        });
      }
      for (let i = 0; i < 500; i++) {
        const page = await h.engine.records.listRecords({ scope: 'stackflow-incidents', limit: 10 });
        if (page.records.length === 5 && page.records.every((r) => r.sync.error?.code === 'JIRA_UNAUTHORIZED')) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const page = await h.engine.records.listRecords({ scope: 'stackflow-incidents', limit: 10 });
      expect(page.records.map((r) => r.sync.state)).toEqual(Array(5).fill('pending'));
      expect(page.records.every((r) => /credentials/.test(r.sync.error?.message ?? ''))).toBe(true);
      expect(h.engine.connectionHealth().sandbox).toMatchObject({ healthy: false });
      // Only the first job(s) reached Jira; the rest waited at the gate.
      expect(h.sandbox.calls.count({ status: 401 })).toBeLessThanOrEqual(2);
    } finally {
      await w.stop();
    }
    h.sandbox.knobs.set({ expiredAuth: false });
    await h.engine.resumeConnection('sandbox');
    await h.drain();
    const after = await h.engine.records.listRecords({ scope: 'stackflow-incidents', limit: 10 });
    expect(after.records.map((r) => r.sync.state)).toEqual(Array(5).fill('synced'));
    expect(issuesOf(h.sandbox, 'OPS').filter((i) => i.summary.startsWith('Paused '))).toHaveLength(5);
  });
});
