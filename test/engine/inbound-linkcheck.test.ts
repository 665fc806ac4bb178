/**
 * Deletions without webhooks: the sweep's link check (at most once per link_check_seconds) finds
 * linked issues a search no longer returns — one `id in (…)` search per 100 links — and their
 * inbound jobs confirm each with one read (404) before the mapping's on_jira_delete applies. An
 * issue the search misses but that still exists (search lag, permissions) is left as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSweeper } from '../../src/engine/sweep.js';
import type { JiraPort } from '../../src/engine/types.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, opsMapping, secMapping, inboundSettings } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

describeEachEngine('sweep link check with webhooks off', ({ fresh }) => {
  describe.each(['cloud', 'datacenter'] as const)('%s', (flavour) => {
    let db: TestDb;
    let h: InboundHarness;
    const SCOPE = 'stackflow-incidents';

    beforeAll(async () => {
      db = await fresh();
      h = await startInboundHarness(db, {
        flavour,
        events: [], // no webhook registered: the sweep is the only way back
        mappings: [
          opsMapping({
            inbound: inboundSettings({ onJiraDelete: 'resolve' }),
          }),
          secMapping({ direction: 'to_jira' }),
        ],
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    const searches = () =>
      h.sandbox.calls
        .snapshot()
        .filter((c) => c.method === 'POST' && c.route.includes('/search'))
        .reduce((n, c) => n + c.count, 0);
    const notFoundReads = () =>
      h.sandbox.calls
        .snapshot()
        .filter((c) => c.method === 'GET' && c.route.endsWith('/issue/:issueIdOrKey') && c.status === 404)
        .reduce((n, c) => n + c.count, 0);
    const incident = async (hostId: string) => {
      await h.engine.records.upsertRecord({
        scope: SCOPE,
        hostId,
        kind: 'incident',
        title: `Link check ${hostId}`,
        status: 'new',
        severity: 'P3',
      });
    };
    /** As if the last link check ran longer ago than the interval. */
    const ageLinkCheck = () =>
      db.store.db
        .updateTable('sweeps')
        .set({ last_finished_at: Date.now() - 3_601_000 })
        .where('name', '=', `links:${CONNECTION_ID}`)
        .execute();

    it('finds an issue deleted in Jira, confirms it with one read, and resolves the record per on_jira_delete', async () => {
      for (const id of ['lc-1', 'lc-2', 'lc-3']) await incident(id);
      // A to_jira mapping's links are not checked (nothing comes back from Jira for them).
      await h.engine.records.upsertRecord({
        scope: 'astra-web',
        hostId: 'lc-sec',
        kind: 'vulnerability',
        title: 'One-way',
        status: 'open',
        severity: 'low',
      });
      await h.settle();
      const first = await h.engine.sweep(CONNECTION_ID);
      expect(first.links).toEqual({ checked: 3, missing: 0, searches: 1 });
      await h.settle(); // the sweep's first look at the new issues

      const doomed = await h.record(SCOPE, 'lc-2');
      const kept = await h.record(SCOPE, 'lc-1');
      await h.alice.deleteIssue(doomed.link!.issue_key!);
      await h.settle();
      // No webhook: nothing noticed. The next sweep within the interval spends nothing on links.
      expect((await h.record(SCOPE, 'lc-2')).link?.state).toBe('linked');
      const s0 = searches();
      const within = await h.engine.sweep(CONNECTION_ID);
      expect(within.links).toBeUndefined();
      expect(searches() - s0).toBe(1); // the sweep's own `updated >=` search only
      expect((await h.record(SCOPE, 'lc-2')).link?.state).toBe('linked');

      await ageLinkCheck();
      const s1 = searches();
      const r404 = notFoundReads();
      const due = await h.engine.sweep(CONNECTION_ID);
      expect(due.links).toEqual({ checked: 3, missing: 1, searches: 1 });
      expect(searches() - s1).toBe(2); // the updated search and one link search
      await h.settle();
      expect(notFoundReads() - r404).toBe(1); // the confirming read
      const gone = await h.record(SCOPE, 'lc-2');
      expect([gone.status, gone.link?.state]).toEqual(['resolved', 'unlinked']);
      const log = await h.engine.records.getLog(SCOPE, 'lc-2');
      expect(log.at(-1)).toMatchObject({ direction: 'inbound', action: 'unlinked' });
      // The others are untouched.
      const after = await h.record(SCOPE, 'lc-1');
      expect([after.version, after.link?.state]).toEqual([kept.version, 'linked']);

      // The unlinked record is not checked again.
      const again = await h.engine.sweep(CONNECTION_ID, { checkLinks: true });
      expect(again.links).toEqual({ checked: 2, missing: 0, searches: 1 });
    });

    it('checks links in batches of at most 100 per search', async () => {
      for (let n = 0; n < 99; n++) await incident(`lc-batch-${n}`);
      await h.settle();
      // The sweep's own search, alone, then with the link check: the difference is the link check.
      const s0 = searches();
      await h.engine.sweep(CONNECTION_ID, { checkLinks: false });
      const own = searches() - s0;
      await h.settle();
      const s1 = searches();
      const r = await h.engine.sweep(CONNECTION_ID, { checkLinks: true });
      expect(r.links).toEqual({ checked: 101, missing: 0, searches: 2 });
      expect(searches() - s1 - own).toBe(2);
    });

    it('a link the search misses but whose issue still exists is left alone (the read finds it)', async () => {
      const r = await h.record(SCOPE, 'lc-3');
      // A search lagging behind (or an issue hidden from it): it misses lc-3's issue.
      const lagging = (port: JiraPort): JiraPort => ({
        ...port,
        missingIssues: async (ids) => [...(await port.missingIssues(ids)), r.link!.issue_id!],
      });
      const sweeper = createSweeper({
        store: db.store,
        queue: h.queue,
        mappings: h.mappings,
        jira: () => lagging(h.port),
        owner: 'test-sweeper',
      });
      const res = await sweeper.runOnce(CONNECTION_ID, { checkLinks: true });
      expect(res.links?.missing).toBe(1);
      await h.settle();
      const after = await h.record(SCOPE, 'lc-3');
      expect([after.status, after.link?.state, after.version]).toEqual(['new', 'linked', r.version]);
    });
  });
});
