import { afterAll, beforeAll, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/seed.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import {
  bridge429s,
  CONNECTION_ID,
  issuesOf,
  noisyNeighbour,
  startHarness,
  type Harness,
  upsertIncident,
} from './harness.js';

/**
 * Changes to records that are already linked, made while Jira refuses calls (a 429 storm, or a
 * 401 that pauses the connection): once Jira answers again every change is in Jira, each once.
 */
describeEachEngine('changes to linked records during Jira faults', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db);
  });
  afterAll(async () => {
    await h.close();
  });

  const incident = (hostId: string, over: Record<string, unknown> = {}) =>
    upsertIncident(h, hostId, `Disk pressure (${hostId})`, over);
  const comment = (hostId: string, n: string) =>
    h.engine.records.addComment('stackflow-incidents', hostId, { author: 'ops', body: `note ${n}`, hostCommentId: n });
  const waitFor = async (what: string, ok: () => Promise<boolean>) => {
    for (let i = 0; i < 1000; i++) {
      if (await ok()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  /** Every record's issue holds its last values and each of its comments once; one issue each. */
  const expectAllArrived = async (ids: string[], last: (id: string) => { title: string; comments: string[] }) => {
    for (const id of ids) {
      const r = await h.engine.records.getRecord('stackflow-incidents', id);
      expect(r.sync, id).toMatchObject({ state: 'synced', error: null });
      const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
      const want = last(id);
      expect(issue.summary, id).toBe(want.title);
      expect(issue.priorityId, id).toBe('1'); // P1 → Highest
      expect(issue.statusId, id).toBe(SEED.status.inProgress);
      const texts = issue.comments.map((c) => JSON.stringify(c.body));
      for (const n of want.comments)
        expect(
          texts.filter((t) => t.includes(`note ${n}`)),
          `${id} ${n}`,
        ).toHaveLength(1);
      expect(issue.comments, id).toHaveLength(want.comments.length);
      expect(
        issuesOf(h.sandbox, 'OPS').filter((i) => i.summary === want.title),
        id,
      ).toHaveLength(1);
    }
  };

  it('429 storm: changes to linked records all reach Jira, none twice', async () => {
    const ids = [0, 1, 2, 3, 4, 5].map((n) => `i-storm-upd-${n}`);
    for (const id of ids) await incident(id);
    await h.drain();
    h.sandbox.calls.reset();
    h.sandbox.knobs.set({ rateLimit: { capacity: 3, refillPerSecond: 40 } });
    // Another client spends most of the bucket: the bridge meets 429s however well it paces.
    const neighbour = noisyNeighbour(h.sandbox, 30);
    const w = h.startWorker(4);
    try {
      // Three rounds of changes while the worker is busy being refused.
      for (let round = 1; round <= 3; round++) {
        for (const id of ids) {
          await incident(id, { title: `Disk pressure (${id}) r${round}`, severity: 'P1', status: 'in_progress' });
          await comment(id, `${id}-c${round}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      await w.stop();
      await h.drain({ timeoutMs: 60_000 });
    } finally {
      await neighbour.stop();
      h.sandbox.knobs.set({ rateLimit: null });
    }
    expect(bridge429s(h.sandbox)).toBeGreaterThan(0);
    await expectAllArrived(ids, (id) => ({
      title: `Disk pressure (${id}) r3`,
      comments: [1, 2, 3].map((r) => `${id}-c${r}`),
    }));
    const dead = await h.queue.stats();
    expect(dead.byState.dead ?? 0).toBe(0);
  });

  it('401 pause: changes made while the connection is paused all reach Jira once the credentials work again', async () => {
    const ids = [0, 1, 2, 3].map((n) => `i-paused-upd-${n}`);
    for (const id of ids) await incident(id);
    await h.drain();
    const before = new Map<string, number>();
    for (const id of ids) {
      const r = await h.engine.records.getRecord('stackflow-incidents', id);
      before.set(id, h.sandbox.state.issue(r.link!.issue_key!)!.changelog.length);
    }

    h.sandbox.knobs.set({ expiredAuth: true });
    const w = h.startWorker(2);
    try {
      for (const id of ids) {
        await incident(id, { title: `Disk pressure (${id}) while paused`, severity: 'P1' });
        await comment(id, `${id}-p1`);
      }
      await waitFor(
        'the connection to pause',
        async () => h.engine.connectionHealth()[CONNECTION_ID]?.healthy === false,
      );
      // More changes while paused: they wait with the others.
      for (const id of ids) {
        await incident(id, { title: `Disk pressure (${id}) still paused`, severity: 'P1', status: 'in_progress' });
        await comment(id, `${id}-p2`);
      }
      await new Promise((r) => setTimeout(r, 100));
      for (const id of ids) {
        const r = await h.engine.records.getRecord('stackflow-incidents', id);
        expect(r.sync.state, id).toBe('pending');
        // Nothing reached Jira meanwhile.
        expect(h.sandbox.state.issue(r.link!.issue_key!)!.changelog.length, id).toBe(before.get(id));
      }
      await w.stop();
    } finally {
      h.sandbox.knobs.set({ expiredAuth: false });
    }
    await h.engine.resumeConnection(CONNECTION_ID);
    await h.drain({ timeoutMs: 60_000 });
    expect(h.engine.connectionHealth()[CONNECTION_ID]?.healthy ?? true).toBe(true);
    await expectAllArrived(ids, (id) => ({
      title: `Disk pressure (${id}) still paused`,
      comments: [`${id}-p1`, `${id}-p2`],
    }));
  });
});
