/**
 * A mapping narrowed by JQL (`filter`, issue 18 item 1), StackFlow's example: only issues labelled
 * `stackflow-sync` are the OPS mapping's own. Against the sandbox on Cloud (POST /search/jql) and
 * Data Center (POST /search), through webhooks and through the sweep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, inboundSettings, opsMapping } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

const SCOPE = 'stackflow-incidents';
const FILTER = 'labels = stackflow-sync';

const stackflow = () =>
  opsMapping({
    filter: FILTER,
    inbound: inboundSettings({ onJiraCreate: 'create_record' }),
  });

describe.each(['cloud', 'datacenter'] as const)('mapping filter: StackFlow labels = stackflow-sync (%s)', (flavour) => {
  describe('through webhooks', () => {
    let db: TestDb;
    let h: InboundHarness;
    const searchedJql: string[] = [];

    beforeAll(async () => {
      db = await freshSqlite();
      h = await startInboundHarness(db, {
        flavour,
        mappings: [stackflow()],
        sandbox: {
          inspect: (r) => {
            const jql = (r.body as { jql?: unknown } | undefined)?.jql;
            if (r.route.includes('/search') && typeof jql === 'string') searchedJql.push(jql);
          },
        },
      });
    });
    afterAll(async () => {
      await h?.close();
      await db?.cleanup();
    });

    const recordOf = (issueId: string | number) => h.record(SCOPE, `jira-${CONNECTION_ID}-${issueId}`);
    const verdicts = (issueId: string | number) =>
      db.store.db
        .selectFrom('webhook_deliveries')
        .select(['verdict', 'detail'])
        .where('issue_id', '=', String(issueId))
        .execute();
    const createdIn = (labels: string[], summary: string) =>
      h.alice.createIssue({
        fields: { project: { key: 'OPS' }, issuetype: { name: 'Incident' }, summary, labels },
      });

    it('an unlabelled issue created in Jira never becomes a record; its delivery is ignored:out_of_scope', async () => {
      const issue = await createdIn([], 'Unlabelled: not for StackFlow');
      await h.settle();
      await expect(recordOf(issue.id)).rejects.toThrow(/No record/);
      const v = await verdicts(issue.id);
      expect(v.length).toBeGreaterThan(0);
      expect(v.every((x) => x.verdict === 'ignored:out_of_scope')).toBe(true);
      expect(v[0]!.detail).toContain(FILTER);
      // The decision was Jira's own search of this one issue under the filter.
      expect(searchedJql).toContain(`id = ${issue.id} AND (${FILTER})`);
    });

    it('a labelled issue created in Jira becomes a record, for one search beside the read', async () => {
      const issue = await createdIn(['stackflow-sync'], 'Labelled: StackFlow owns it');
      await h.settle();
      const rec = await recordOf(issue.id);
      expect([rec.kind, rec.title, rec.link?.issue_key]).toEqual([
        'incident',
        'Labelled: StackFlow owns it',
        issue.key,
      ]);
      const log = await h.engine.records.getLog(SCOPE, `jira-${CONNECTION_ID}-${issue.id}`);
      const created = log.find((e) => e.direction === 'inbound' && e.action === 'created');
      expect(created?.jira_calls).toBe(2); // the read and the filter search
    });

    it('a linked issue that leaves the filter stops bringing changes back; back in the filter, they come again', async () => {
      const issue = await createdIn(['stackflow-sync'], 'Leaves the filter');
      await h.settle();
      const before = await recordOf(issue.id);
      await h.alice.editIssue(issue.key, { fields: { labels: [], summary: 'Renamed outside the filter' } });
      await h.settle();
      const outside = await recordOf(issue.id);
      expect([outside.title, outside.version]).toEqual(['Leaves the filter', before.version]);
      expect((await verdicts(issue.id)).map((v) => v.verdict)).toContain('ignored:out_of_scope');
      await h.alice.editIssue(issue.key, { fields: { labels: ['stackflow-sync'] } });
      await h.settle();
      expect((await recordOf(issue.id)).title).toBe('Renamed outside the filter');
    });

    it('records the host creates carry the mapping label, so their Jira changes come back', async () => {
      await h.engine.records.upsertRecord({
        scope: SCOPE,
        hostId: 'sf-1',
        kind: 'incident',
        title: 'From StackFlow',
        status: 'new',
        severity: 'P3',
      });
      await h.settle();
      const rec = await h.record(SCOPE, 'sf-1');
      await h.alice.editIssue(rec.link!.issue_key!, { fields: { summary: 'From StackFlow, edited in Jira' } });
      await h.settle();
      expect((await h.record(SCOPE, 'sf-1')).title).toBe('From StackFlow, edited in Jira');
    });
  });

  describe('through the sweep (no webhooks)', () => {
    let db: TestDb;
    let h: InboundHarness;
    const searchedJql: string[] = [];

    beforeAll(async () => {
      db = await freshSqlite();
      h = await startInboundHarness(db, {
        flavour,
        events: [],
        mappings: [stackflow()],
        sandbox: {
          inspect: (r) => {
            const jql = (r.body as { jql?: unknown } | undefined)?.jql;
            if (r.route.includes('/search') && typeof jql === 'string') searchedJql.push(jql);
          },
        },
      });
    });
    afterAll(async () => {
      await h?.close();
      await db?.cleanup();
    });

    const recordOf = (issueId: string | number) => h.record(SCOPE, `jira-${CONNECTION_ID}-${issueId}`);

    it('an unlabelled issue created in Jira is never swept into a record; a labelled one is', async () => {
      const plain = await h.alice.createIssue({
        fields: { project: { key: 'OPS' }, issuetype: { name: 'Incident' }, summary: 'Unlabelled, swept' },
      });
      const labelled = await h.alice.createIssue({
        fields: {
          project: { key: 'OPS' },
          issuetype: { name: 'Incident' },
          summary: 'Labelled, swept',
          labels: ['stackflow-sync'],
        },
      });
      const result = await h.engine.sweep(CONNECTION_ID, { checkLinks: false });
      // The sweep's own search carries the filter: the unlabelled issue is not even seen.
      expect(searchedJql.some((q) => q.startsWith(`(project = "OPS" AND (${FILTER})) AND updated >= -`))).toBe(true);
      expect(result.seen).toBe(1);
      expect(result.queued).toBe(1);
      await h.settle();
      expect((await recordOf(labelled.id)).title).toBe('Labelled, swept');
      await expect(recordOf(plain.id)).rejects.toThrow(/No record/);
    });

    it('the link check searches under the filter; a linked issue outside it stays linked and unchanged', async () => {
      const issue = await h.alice.createIssue({
        fields: {
          project: { key: 'OPS' },
          issuetype: { name: 'Incident' },
          summary: 'Linked, then unlabelled',
          labels: ['stackflow-sync'],
        },
      });
      await h.engine.sweep(CONNECTION_ID, { checkLinks: false });
      await h.settle();
      const before = await recordOf(issue.id);
      await h.alice.editIssue(issue.key, { fields: { labels: [], summary: 'Unlabelled and renamed' } });
      const result = await h.engine.sweep(CONNECTION_ID, { checkLinks: true });
      expect(searchedJql.some((q) => /^id in \([\d, ]+\) AND \(labels = stackflow-sync\)$/.test(q))).toBe(true);
      expect(result.links?.missing).toBe(1);
      await h.settle();
      const after = await recordOf(issue.id);
      expect([after.title, after.version, after.link?.state]).toEqual([
        'Linked, then unlabelled',
        before.version,
        'linked',
      ]);
    });
  });
});
