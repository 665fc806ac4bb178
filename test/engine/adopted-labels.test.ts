/**
 * Every linked issue carries the mapping's labels (issue 18 item 5, StackFlow: "auto-add label
 * stackflow-sync to synced issues"): an issue created in Jira and adopted by
 * `on_jira_create: create_record` gets them in one edit, only when some are missing, and that
 * edit never comes back as a change. Against the sandbox on Cloud (REST v3) and Data Center (v2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, inboundSettings, opsMapping } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

const SCOPE = 'stackflow-incidents';

describeEachEngine('mapping labels on adopted issues', ({ fresh }) => {
  describe.each(['cloud', 'datacenter'] as const)('%s', (flavour) => {
    let db: TestDb;
    let h: InboundHarness;

    beforeAll(async () => {
      db = await fresh();
      h = await startInboundHarness(db, {
        flavour,
        mappings: [
          opsMapping({
            labels: ['stackflow-sync', 'ops team'],
            inbound: inboundSettings({ onJiraCreate: 'create_record' }),
          }),
        ],
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    const createdIn = (labels: string[], summary: string) =>
      h.alice.createIssue({ fields: { project: { key: 'OPS' }, issuetype: { name: 'Incident' }, summary, labels } });
    const labelsOf = (key: string) => [...h.sandbox.state.issue(key)!.labels].sort();

    it("an issue created in Jira and adopted carries the mapping's labels", async () => {
      const issue = await createdIn(['customer'], 'Checkout latency');
      const before = h.writes();
      await h.settle();
      const record = await h.record(SCOPE, `jira-${CONNECTION_ID}-${issue.id}`);
      expect(record.link?.issue_key).toBe(issue.key);
      expect(labelsOf(issue.key)).toEqual(['customer', 'ops_team', 'stackflow-sync']);
      // One edit, and it never echoes: the record keeps its first version and its host labels.
      expect(h.writes() - before).toBe(1);
      expect([record.version, record.labels]).toEqual([1, ['customer']]);
      const verdicts = await db.store.db
        .selectFrom('webhook_deliveries')
        .select('verdict')
        .where('issue_id', '=', String(issue.id))
        .execute();
      expect(verdicts.map((v) => v.verdict)).toContain('echo');
      const log = await h.engine.records.getLog(SCOPE, `jira-${CONNECTION_ID}-${issue.id}`);
      expect(log.filter((e) => e.direction === 'inbound' && e.action !== 'created' && e.action !== 'noop')).toEqual([]);
    });

    it('an adopted issue that already has them is not edited', async () => {
      const issue = await createdIn(['stackflow-sync', 'ops_team'], 'Already labelled');
      const before = h.writes();
      await h.settle();
      expect((await h.record(SCOPE, `jira-${CONNECTION_ID}-${issue.id}`)).link?.issue_key).toBe(issue.key);
      expect(h.writes() - before).toBe(0);
      expect(labelsOf(issue.key)).toEqual(['ops_team', 'stackflow-sync']);
    });
  });
});
