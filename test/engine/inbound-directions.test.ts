/**
 * Directions, locks and conflicts end to end (sandbox as Jira, its signed webhooks, the queue):
 *  - per-field direction: a `both` custom field edited in Jira reaches the record, a `to_jira`
 *    one does not (and is not written back);
 *  - built-in directions (Astra: summary and description to_jira only): a Jira edit of the
 *    summary neither reaches the record nor causes a write back to Jira (calls counted);
 *  - `lock`: a locked field edited on both sides ends with the lock side's value, whichever edit
 *    is newer;
 *  - a conflict Jira wins (newer) leaves the host's losing value in the record's sync log;
 *  - custom fields of several types (select, number, labels, date, user) decode back to the
 *    host's values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/seed.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/wait.js';
import { secMapping } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

const F = SEED.field;
const SCOPE = 'astra-web';

describeEachEngine('field directions, locks and conflicts', ({ fresh }) => {
  describe.each(['cloud', 'datacenter'] as const)('%s', (flavour) => {
    let db: TestDb;
    let h: InboundHarness;

    beforeAll(async () => {
      db = await fresh();
      h = await startInboundHarness(db, {
        flavour,
        mappings: [
          secMapping({
            // Astra: summary and description flow to Jira only.
            builtinDirections: { summary: 'to_jira', description: 'to_jira' },
            fields: [
              { host: 'cvss', jira: F.cvss, type: 'number', direction: 'both' },
              { host: 'asset_id', jira: F.asset, type: 'select', direction: 'both' },
              { host: 'url', jira: F.affectedUrl, type: 'url', direction: 'to_jira' },
              { host: 'environments', jira: F.environment, type: 'multiselect', direction: 'both', lock: 'host' },
              { host: 'owner', jira: F.componentOwner, type: 'user', direction: 'both' },
              { host: 'due', jira: F.due, type: 'date', direction: 'both' },
              { host: 'notes', jira: F.notes, type: 'textarea', direction: 'both', lock: 'jira' },
              { host: 'tags', jira: F.tags, type: 'labels', direction: 'both' },
            ],
          }),
        ],
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    const custom0 = {
      cvss: 5,
      asset_id: 'web-portal',
      url: 'https://app.example/login',
      environments: ['Production'],
      owner: 'alice@sandbox.example',
      due: '2026-12-01',
      notes: 'Initial notes',
      tags: ['auth'],
    };
    const upsert = (hostId: string, custom: Record<string, unknown> = {}, over: Record<string, unknown> = {}) =>
      h.engine.records.upsertRecord({
        scope: SCOPE,
        hostId,
        kind: 'vulnerability',
        title: `SQL injection (${hostId})`,
        description: 'The **login** form',
        status: 'open',
        severity: 'high',
        custom: { ...custom0, ...custom },
        ...over,
      });
    const linked = async (hostId: string) => {
      await upsert(hostId);
      await h.settle();
      const r = await h.record(SCOPE, hostId);
      expect(r.link?.state).toBe('linked');
      expect(r.sync.state).toBe('synced');
      return r.link!.issue_key!;
    };
    const person = (user: 'admin' | 'alice') =>
      flavour === 'cloud'
        ? { accountId: h.sandbox.credentials.users[user]!.accountId }
        : { name: h.sandbox.credentials.users[user]!.name };
    const text = (s: string): unknown =>
      flavour === 'cloud'
        ? { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: s }] }] }
        : s;
    /** Until the millisecond clock has moved past now: the next edit is strictly newer than the last. */
    const tick = async (): Promise<void> => {
      const t = Date.now();
      await until('the clock to pass the last edit', () => Date.now() > t);
    };
    /** What the bridge wrote to Jira while `fn` ran, given Alice made `aliceWrites` writes in it. */
    const bridgeWrites = async (aliceWrites: number, fn: () => Promise<void>) => {
      const before = h.writes();
      await fn();
      return h.writes() - before - aliceWrites;
    };

    it('per-field direction: a `both` field edited in Jira reaches the record, a `to_jira` one does not', async () => {
      const key = await linked('dir-1');
      const written = await bridgeWrites(1, async () => {
        await h.alice.editIssue(key, { fields: { [F.cvss]: 9.1, [F.affectedUrl]: 'https://elsewhere.example/x' } });
        await h.settle();
      });
      const r = await h.record(SCOPE, 'dir-1');
      expect(r.custom.cvss).toBe(9.1);
      expect(r.custom.url).toBe('https://app.example/login');
      // Jira keeps its own value of the to_jira field until the host changes it: nothing is written back.
      expect(written).toBe(0);
      expect(h.sandbox.state.issue(key)!.custom[F.affectedUrl]).toBe('https://elsewhere.example/x');
    });

    it('built-in directions: summary and description to_jira only — a Jira edit neither lands nor is written back', async () => {
      const key = await linked('dir-2');
      const before = await h.record(SCOPE, 'dir-2');
      const written = await bridgeWrites(1, async () => {
        await h.alice.editIssue(key, {
          fields: { summary: 'Renamed in Jira', description: text('Rewritten in Jira') as never },
        });
        await h.settle();
      });
      const after = await h.record(SCOPE, 'dir-2');
      expect(after.title).toBe(before.title);
      expect(after.description).toBe(before.description);
      expect(after.version).toBe(before.version);
      expect(written).toBe(0);
      expect(h.sandbox.state.issue(key)!.summary).toBe('Renamed in Jira');
      // A later host edit of the summary is pushed as usual (the direction is to_jira, not off).
      const pushed = await bridgeWrites(0, async () => {
        await upsert('dir-2', {}, { title: 'SQL injection in login (host)' });
        await h.settle();
      });
      expect(pushed).toBe(1);
      expect(h.sandbox.state.issue(key)!.summary).toBe('SQL injection in login (host)');
    });

    // A field locked to Jira is Jira's: the host's value never goes out. A field locked to the host
    // wins every conflict, even against a newer Jira edit.
    it('lock: a field locked to one side ends with that side’s value, whichever edit is newer', async () => {
      const key = await linked('dir-3');
      // environments (lock: host): the host edits first (older), Jira later (newer).
      await upsert('dir-3', { environments: ['Staging'] });
      await tick();
      // notes (lock: jira): Jira edits first (older), the host later (newer).
      await h.alice.editIssue(key, {
        fields: { [F.environment]: [{ value: 'Development' }], [F.notes]: text('Notes from Jira') as never },
      });
      await tick();
      await upsert('dir-3', { environments: ['Staging'], notes: 'Notes from the host' });
      await h.settle();
      const r = await h.record(SCOPE, 'dir-3');
      const issue = h.sandbox.state.issue(key)!;
      expect(r.custom.environments).toEqual(['Staging']);
      expect(issue.custom[F.environment]).toEqual(['10111']); // the option Staging
      expect(r.custom.notes).toBe('Notes from Jira');
      expect(JSON.stringify(issue.custom[F.notes])).toContain('Notes from Jira');
      // Settled: a further run writes nothing and changes nothing.
      const written = await bridgeWrites(0, async () => {
        await h.engine.syncIssue({ connectionId: 'sandbox', issueId: issue.id, source: 'manual' });
        await h.settle();
      });
      expect(written).toBe(0);
      expect((await h.record(SCOPE, 'dir-3')).version).toBe(r.version);
    });

    it('a conflict Jira wins (its edit is newer): the record takes it and the log keeps the host’s loser', async () => {
      const key = await linked('dir-4');
      await upsert('dir-4', { cvss: 6.5 });
      await tick();
      await h.alice.editIssue(key, { fields: { [F.cvss]: 8.8 } });
      await h.settle();
      const r = await h.record(SCOPE, 'dir-4');
      expect(r.custom.cvss).toBe(8.8);
      expect(h.sandbox.state.issue(key)!.custom[F.cvss]).toBe(8.8);
      const log = await h.engine.records.getLog(SCOPE, 'dir-4');
      const conflicts = log.flatMap((e) =>
        ((e.fields as { conflicts?: Array<Record<string, unknown>> } | null)?.conflicts ?? []).map((c) => ({
          direction: e.direction,
          ...c,
        })),
      );
      expect(conflicts).toContainEqual(
        expect.objectContaining({ field: 'custom:cvss', winner: 'jira', rule: 'newest', lost: 6.5 }),
      );
      // Converged: nothing left to do on a re-run.
      const again = await bridgeWrites(0, async () => {
        await h.engine.syncIssue({ connectionId: 'sandbox', issueId: r.link!.issue_id!, source: 'manual' });
        await h.settle();
      });
      expect(again).toBe(0);
    });

    it('the host wins a labels conflict with its whole set: a label added in Jira meanwhile does not survive', async () => {
      const key = await linked('dir-6');
      await h.alice.editIssue(key, { update: { labels: [{ add: 'from-jira' }] } });
      await h.sandbox.webhooks.drain(); // Jira's delivery is in: its job is queued first
      await tick();
      await upsert('dir-6', {}, { labels: ['from-host'] });
      await h.settle();
      const r = await h.record(SCOPE, 'dir-6');
      const inJira = h.sandbox.state
        .issue(key)!
        .labels.filter((l) => l !== 'astra' && !l.startsWith('jb-'))
        .sort();
      expect(r.labels).toEqual(['from-host']);
      expect(inJira).toEqual(['from-host']);
      const log = await h.engine.records.getLog(SCOPE, 'dir-6');
      expect(JSON.stringify(log)).toMatch(
        /"field":"labels","winner":"host","rule":"newest","lost":\[[^\]]*"from-jira"/,
      );
    });

    it('custom fields edited in Jira decode back to host values: select, number, labels, date, user', async () => {
      const key = await linked('dir-5');
      await h.alice.editIssue(key, {
        fields: {
          [F.asset]: { value: 'payments-api' },
          [F.cvss]: 7.5,
          [F.tags]: ['payments', 'pci'],
          [F.due]: '2027-01-15',
          [F.componentOwner]: person('admin'),
        },
      });
      await h.settle();
      const r = await h.record(SCOPE, 'dir-5');
      expect(r.custom).toMatchObject({
        asset_id: 'payments-api',
        cvss: 7.5,
        tags: ['payments', 'pci'],
        due: '2027-01-15',
        owner: 'admin@sandbox.example',
      });
      // The decoded values are the agreed ones: the host sending them back changes nothing in Jira.
      const written = await bridgeWrites(0, async () => {
        await upsert('dir-5', { ...r.custom });
        await h.settle();
      });
      expect(written).toBe(0);
    });
  });
});
