import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { opsMapping, secMapping, jsmMapping, inboundSettings } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

const adf = (text: string) => ({
  type: 'doc' as const,
  version: 1 as const,
  content: [{ type: 'paragraph', content: [{ type: 'text', text }] }],
});

describeEachEngine('inbound sync: Jira changes reach the record (sandbox webhooks)', ({ fresh }) => {
  let db: TestDb;
  let h: InboundHarness;

  beforeAll(async () => {
    db = await fresh();
    h = await startInboundHarness(db, {
      mappings: [
        // SEC: comments flow to Jira only.
        secMapping({
          inbound: inboundSettings({ comments: false }),
        }),
        opsMapping({
          inbound: inboundSettings({ onJiraDelete: 'resolve', onJiraCreate: 'create_record' }),
        }),
        jsmMapping({
          inbound: inboundSettings({ statusIn: { 'category:done': 'resolved' }, reopenFromJira: false }),
        }),
      ],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const incident = async (hostId: string, over: Record<string, unknown> = {}) => {
    await h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId,
      kind: 'incident',
      title: `Checkout latency (${hostId})`,
      description: 'p99 over **2 s**',
      status: 'new',
      severity: 'P3',
      ...over,
    });
    await h.settle();
    const r = await h.record('stackflow-incidents', hostId);
    expect(r.link?.state).toBe('linked');
    return r.link!.issue_key!;
  };

  it('edits, priority, labels, assignee and transitions made in Jira land on the record', async () => {
    const key = await incident('inc-1');
    await h.alice.editIssue(key, {
      fields: {
        summary: 'Checkout latency: root cause found',
        description: adf('The cache was cold. Fixed by warming it.'),
        priority: { name: 'Highest' },
        assignee: { accountId: h.sandbox.credentials.users.alice!.accountId },
      },
      update: { labels: [{ add: 'customer-impact' }] },
    });
    const ts = await h.alice.getTransitions(key);
    await h.alice.transition(key, String(ts.find((t) => t.to.name === 'In Progress')!.id));
    await h.settle();
    const r = await h.record('stackflow-incidents', 'inc-1');
    expect(r.title).toBe('Checkout latency: root cause found');
    expect(r.description).toBe('The cache was cold. Fixed by warming it.');
    expect(r.severity).toBe('P1');
    expect(r.labels).toEqual(['customer-impact']);
    expect(r.assignee_email).toBe('alice@sandbox.example');
    expect(r.status).toBe('in_progress');
    // The record's change is published with its origin.
    const feed = await db.store.db
      .selectFrom('change_feed')
      .selectAll()
      .where('record_id', '=', r.id)
      .where('event', '=', 'record.updated')
      .execute();
    expect(feed.some((f) => f.data?.includes('"origin":"jira"'))).toBe(true);
  });

  it('our own writes come back as echoes: nothing changes and nothing is written', async () => {
    const key = await incident('inc-echo');
    const before = await h.record('stackflow-incidents', 'inc-echo');
    const writes = h.writes();
    await h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'inc-echo',
      kind: 'incident',
      title: 'Checkout latency (renamed by the host)',
      description: 'p99 over **2 s**\n\n- item one\n- item two',
      status: 'in_progress',
      severity: 'P2',
      labels: ['db'],
    });
    await h.settle();
    // Exactly the outbound work: one edit and one transition; nothing caused by the echoes.
    expect(h.writes() - writes).toBe(2);
    const after = await h.record('stackflow-incidents', 'inc-echo');
    expect(after.version).toBe(before.version + 1);
    expect(after.title).toBe('Checkout latency (renamed by the host)');
    const verdicts = await db.store.db
      .selectFrom('webhook_deliveries')
      .select('verdict')
      .where('issue_key', '=', key)
      .execute();
    expect(verdicts.length).toBeGreaterThan(0);
    expect(
      verdicts.every((v) => v.verdict === 'echo' || v.verdict === 'ignored:unlinked' || v.verdict === 'no_change'),
    ).toBe(true);
    expect(verdicts.some((v) => v.verdict === 'echo')).toBe(true);
  });

  it('comments created, edited and deleted in Jira appear on the record; ours are not copied back', async () => {
    const key = await incident('inc-comments');
    await h.engine.records.addComment('stackflow-incidents', 'inc-comments', {
      author: 'host-user',
      body: 'From the platform',
      hostCommentId: 'hc-1',
    });
    const c = await h.alice.addComment(key, adf('Looking into it'));
    await h.settle();
    let comments = await db.store.db
      .selectFrom('record_comments')
      .selectAll()
      .where('record_id', '=', (await h.record('stackflow-incidents', 'inc-comments')).id)
      .orderBy('created_at')
      .execute();
    expect(comments.map((x) => [x.origin, x.body, x.deleted])).toEqual([
      ['host', 'From the platform', 0],
      ['jira', 'Looking into it', 0],
    ]);
    expect(comments[1]!.author).toContain('Alice');
    await h.alice.updateComment(key, String(c.id), adf('Looking into it: the cache'));
    await h.settle();
    await h.alice.deleteComment(key, String(c.id));
    const c2 = await h.alice.addComment(key, adf('Second thought'));
    await h.settle();
    comments = await db.store.db
      .selectFrom('record_comments')
      .selectAll()
      .where('record_id', '=', (await h.record('stackflow-incidents', 'inc-comments')).id)
      .orderBy('created_at')
      .execute();
    expect(comments.map((x) => [x.origin, x.body, x.deleted])).toEqual([
      ['host', 'From the platform', 0],
      ['jira', 'Looking into it: the cache', 1],
      ['jira', 'Second thought', 0],
    ]);
    expect(c2.id).toBeDefined();
  });

  it('a conflict on one field: the newest change wins and the loser is logged', async () => {
    const key = await incident('inc-conflict');
    // Jira edits first, the host edits later (newer) before the inbound job ran.
    h.sandbox.webhooks.setFaults({ delayMs: [200, 200] });
    await h.alice.editIssue(key, { fields: { summary: 'Summary from Jira' } });
    await new Promise((r) => setTimeout(r, 20));
    await h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'inc-conflict',
      kind: 'incident',
      title: 'Summary from the host',
      description: 'p99 over **2 s**',
      status: 'new',
      severity: 'P3',
    });
    h.sandbox.webhooks.setFaults({});
    await h.settle();
    const r = await h.record('stackflow-incidents', 'inc-conflict');
    expect(r.title).toBe('Summary from the host');
    expect(h.sandbox.state.issue(key)!.summary).toBe('Summary from the host');
  });

  it('an issue moved to another project keeps its link; the key follows', async () => {
    const key = await incident('inc-move');
    const issue = h.sandbox.state.issue(key)!;
    h.sandbox.ops.moveIssue(issue, 'SEC', 'Task', h.sandbox.credentials.users.alice!.accountId);
    await h.settle();
    const r = await h.record('stackflow-incidents', 'inc-move');
    expect(r.link?.issue_key).toMatch(/^SEC-/);
    expect(r.link?.issue_id).toBe(issue.id);
  });

  it('issue deleted in Jira: the OPS mapping resolves the record and unlinks it', async () => {
    const key = await incident('inc-delete');
    await h.alice.deleteIssue(key);
    await h.settle();
    const r = await h.record('stackflow-incidents', 'inc-delete');
    expect(r.status).toBe('resolved');
    expect(r.link?.state).toBe('unlinked');
    // A later host change does not re-create an issue by itself.
    const writes = h.writes();
    await h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'inc-delete',
      kind: 'incident',
      title: 'Still here',
      status: 'resolved',
    });
    await h.settle();
    expect(h.writes()).toBe(writes);
  });

  it('issues created in Jira open host records (create_record); done resolves them; none twice', async () => {
    const created = await h.alice.createIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Incident' },
        summary: 'Disk full on db-3',
        priority: { name: 'High' },
      },
    });
    await h.settle();
    const rec = await h.record('stackflow-incidents', `jira-sandbox-${created.id}`);
    expect(rec.title).toBe('Disk full on db-3');
    expect(rec.severity).toBe('P2');
    expect(rec.link?.issue_key).toBe(created.key);
    const ts = await h.alice.getTransitions(created.key);
    const done = ts.find((t) => t.to.name === 'Done');
    if (done) {
      await h.alice.transition(created.key, String(done.id));
    } else {
      await h.alice.transition(created.key, String(ts.find((t) => t.to.name === 'In Progress')!.id));
      const ts2 = await h.alice.getTransitions(created.key);
      await h.alice.transition(created.key, String(ts2.find((t) => t.to.name === 'Done')!.id));
    }
    await h.settle();
    const after = await h.record('stackflow-incidents', `jira-sandbox-${created.id}`);
    expect(after.status).toBe('resolved');
    const all = await db.store.db
      .selectFrom('links')
      .select('record_id')
      .where('issue_id', '=', String(created.id))
      .execute();
    expect(all).toHaveLength(1);
    // Records the host created are not duplicated by their issue_created deliveries.
    const count = await db.store.db
      .selectFrom('records')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('host_id', 'like', 'jira-%')
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it('an issue created in Jira becomes the kind its issue type maps to; an unmapped type is not a record', async () => {
    const task = await h.alice.createIssue({
      fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'Rotate the db-3 certificate' },
    });
    const bug = await h.alice.createIssue({
      fields: { project: { key: 'OPS' }, issuetype: { name: 'Bug' }, summary: 'Typo on the status page' },
    });
    await h.settle();
    expect((await h.record('stackflow-incidents', `jira-sandbox-${task.id}`)).kind).toBe('change');
    await expect(h.record('stackflow-incidents', `jira-sandbox-${bug.id}`)).rejects.toThrow(/No record/);
    const verdicts = await db.store.db
      .selectFrom('webhook_deliveries')
      .select('verdict')
      .where('issue_id', '=', String(bug.id))
      .execute();
    expect(verdicts.map((v) => v.verdict)).toContain('ignored:out_of_scope');
  });

  it('the sweep applies what webhooks missed, and a second sweep finds nothing to do', async () => {
    const key = await incident('inc-sweep');
    h.sandbox.webhooks.setFaults({ dropRate: 1 });
    await h.alice.editIssue(key, { fields: { summary: 'Changed while webhooks were down' } });
    await h.settle();
    h.sandbox.webhooks.setFaults({});
    expect((await h.record('stackflow-incidents', 'inc-sweep')).title).not.toBe('Changed while webhooks were down');
    const first = await h.engine.sweep('sandbox');
    expect(first.queued).toBeGreaterThan(0);
    await h.settle();
    expect((await h.record('stackflow-incidents', 'inc-sweep')).title).toBe('Changed while webhooks were down');
    const second = await h.engine.sweep('sandbox');
    expect(second.queued).toBe(0);
  });

  it('the sweep sees a change that shares its `updated` with the state last read (same millisecond, webhook lost)', async () => {
    const key = await incident('inc-same-ms');
    h.sandbox.webhooks.setFaults({ dropRate: 1 });
    await h.alice.editIssue(key, { fields: { summary: 'Edited in the same millisecond' } });
    await h.settle();
    h.sandbox.webhooks.setFaults({});
    // As if the bridge had read the issue in the millisecond of Alice's edit, just before it.
    const issue = h.sandbox.state.issue(key)!;
    const r = await h.record('stackflow-incidents', 'inc-same-ms');
    await db.store.db.updateTable('links').set({ jira_updated: issue.updated }).where('record_id', '=', r.id).execute();
    const sweep = await h.engine.sweep('sandbox');
    expect(sweep.queued).toBeGreaterThan(0);
    await h.settle();
    expect((await h.record('stackflow-incidents', 'inc-same-ms')).title).toBe('Edited in the same millisecond');
    expect((await h.engine.sweep('sandbox')).queued).toBe(0);
  });

  it('a closed record is not reopened from Jira when the mapping forbids it (JSM)', async () => {
    await h.engine.records.upsertRecord({
      scope: 'xyte',
      hostId: 'x-1',
      kind: 'incident',
      title: 'Projector broken',
      status: 'open',
      severity: 'high',
    });
    await h.settle();
    await h.engine.records.upsertRecord({
      scope: 'xyte',
      hostId: 'x-1',
      kind: 'incident',
      title: 'Projector broken',
      status: 'resolved',
      severity: 'high',
    });
    await h.settle();
    const r = await h.record('xyte', 'x-1');
    const key = r.link!.issue_key!;
    expect(h.sandbox.state.status(h.sandbox.state.issue(key)!.statusId).name).toBe('Resolved');
    const ts = await h.alice.getTransitions(key);
    const reopen = ts.find((t) => h.sandbox.state.status(String(t.to.id)).category !== 'done');
    expect(reopen).toBeDefined();
    await h.alice.transition(key, String(reopen!.id));
    await h.settle();
    expect((await h.record('xyte', 'x-1')).status).toBe('resolved');
    const log = await h.engine.records.getLog('xyte', 'x-1');
    expect(JSON.stringify(log)).toContain('forbids reopening');
  });

  it('comment sync from Jira can be off per mapping: Jira comments stay in Jira', async () => {
    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'v-nocomments',
      kind: 'vulnerability',
      title: 'XSS in search',
      status: 'open',
      severity: 'high',
    });
    await h.settle();
    const r = await h.record('astra-web', 'v-nocomments');
    await h.alice.addComment(r.link!.issue_key!, adf('Only for Jira people'));
    await h.alice.editIssue(r.link!.issue_key!, { fields: { summary: 'XSS in search (confirmed)' } });
    await h.settle();
    const after = await h.record('astra-web', 'v-nocomments');
    expect(after.title).toBe('XSS in search (confirmed)');
    const rows = await db.store.db.selectFrom('record_comments').selectAll().where('record_id', '=', r.id).execute();
    expect(rows).toEqual([]);
  });

  it('JSM internal comments stay internal on the record', async () => {
    await h.engine.records.upsertRecord({
      scope: 'xyte',
      hostId: 'x-2',
      kind: 'incident',
      title: 'Badge reader',
      status: 'open',
    });
    await h.settle();
    const key = (await h.record('xyte', 'x-2')).link!.issue_key!;
    await h.alice.addComment(key, adf('Customer-visible reply'));
    await h.alice.addComment(key, 'Internal note', { public: false });
    await h.settle();
    const rows = await db.store.db
      .selectFrom('record_comments')
      .select(['body', 'internal'])
      .where('record_id', '=', (await h.record('xyte', 'x-2')).id)
      .orderBy('created_at')
      .execute();
    expect(rows).toEqual([
      { body: 'Customer-visible reply', internal: 0 },
      { body: 'Internal note', internal: 1 },
    ]);
  });

  it('host comments marked internal become internal notes on the request; the others are replies', async () => {
    await h.engine.records.upsertRecord({
      scope: 'xyte',
      hostId: 'x-3',
      kind: 'incident',
      title: 'Door sensor',
      status: 'open',
    });
    await h.settle();
    await h.engine.records.addComment('xyte', 'x-3', {
      author: 'ops',
      body: 'Work note: swapped the sensor',
      hostCommentId: 'wn-1',
      internal: true,
    });
    await h.engine.records.addComment('xyte', 'x-3', { author: 'ops', body: 'We are on it', hostCommentId: 'rp-1' });
    await h.settle();
    const key = (await h.record('xyte', 'x-3')).link!.issue_key!;
    const inJira = h.sandbox.state.issue(key)!.comments.map((c) => ({
      text: JSON.stringify(c.body).includes('swapped') ? 'work note' : 'reply',
      public: c.jsdPublic,
    }));
    expect(inJira).toEqual([
      { text: 'work note', public: false },
      { text: 'reply', public: true },
    ]);
    // The echoes of our own posts add nothing; the record keeps both with their visibility.
    const list = await h.engine.records.listComments('xyte', 'x-3');
    expect(list.map((c) => [c.origin, c.internal])).toEqual([
      ['host', true],
      ['host', false],
    ]);
  });
});
