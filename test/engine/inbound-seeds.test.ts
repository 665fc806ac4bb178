/**
 * The return path as each product seed describes it (/work/shared/seeds), end to end against the
 * sandbox (its signed webhooks, the queue, the record store):
 *  - Xyte (Service Management): Jira priority → incident priority by its table; a request moved
 *    to a Done-category status closes the incident; a closed incident is never reopened from Jira.
 *  - ITOC360 (alerts): an issue created in Jira opens an alert, one created done opens nothing
 *    until it becomes active; done resolves it, deletion resolves it; its priority is mapped;
 *    the issue is the fingerprint.
 *  - StackFlow (jira_to_stackflow): Jira's changes reach the record; the host's cause no Jira call.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OutboundMapping } from '../../src/engine/types.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, jsmMapping, inboundSettings } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

/** Moves an issue as Alice, through the transition to the status named (one hop). */
async function move(h: InboundHarness, key: string, to: string, fields?: Record<string, unknown>): Promise<void> {
  const ts = await h.alice.getTransitions(key);
  const t = ts.find((x) => x.to.name === to);
  if (!t) throw new Error(`${key}: no transition to ${to} (have ${ts.map((x) => x.to.name).join(', ')})`);
  await h.alice.transition(key, String(t.id), fields);
}

describeEachEngine('Xyte: Service Management requests back to incidents', ({ fresh }) => {
  let db: TestDb;
  let h: InboundHarness;
  const SCOPE = 'xyte';

  beforeAll(async () => {
    db = await fresh();
    h = await startInboundHarness(db, {
      mappings: [
        jsmMapping({
          // Xyte will not reopen a closed incident, even if the Jira request is reopened.
          inbound: inboundSettings({ reopenFromJira: false }),
        }),
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const incident = async (hostId: string) => {
    await h.engine.records.upsertRecord({
      scope: SCOPE,
      hostId,
      kind: 'incident',
      title: `Display wall offline (${hostId})`,
      description: 'Room 4.12',
      status: 'open',
      severity: 'moderate',
    });
    await h.settle();
    const r = await h.record(SCOPE, hostId);
    expect(r.link?.state).toBe('linked');
    return r.link!.issue_key!;
  };

  it('priority table inbound: Highest→Critical, High→High, Medium→Moderate, Low→Low, Lowest→Planning', async () => {
    const key = await incident('xy-prio');
    const table: Array<[string, string]> = [
      ['Highest', 'critical'],
      ['High', 'high'],
      ['Lowest', 'planning'],
      ['Low', 'low'],
      ['Medium', 'moderate'],
    ];
    for (const [jira, host] of table) {
      await h.alice.editIssue(key, { fields: { priority: { name: jira } } });
      await h.settle();
      expect([jira, (await h.record(SCOPE, 'xy-prio')).severity]).toEqual([jira, host]);
    }
  });

  it('a request moved to a Done-category status closes the incident', async () => {
    const key = await incident('xy-done');
    await move(h, key, 'In Progress');
    await h.settle();
    expect((await h.record(SCOPE, 'xy-done')).status).toBe('open');
    // "Resolved" is in the Done category of the service workflow: the category decides, not the name.
    await move(h, key, 'Resolved', { resolution: { name: 'Done' } });
    await h.settle();
    expect(h.sandbox.state.status(h.sandbox.state.issue(key)!.statusId).category).toBe('done');
    expect((await h.record(SCOPE, 'xy-done')).status).toBe('resolved');
  });

  it('a closed incident is never reopened from Jira, and the reopen causes no write back', async () => {
    const key = await incident('xy-closed');
    await move(h, key, 'Resolved', { resolution: { name: 'Done' } });
    await h.settle();
    const closed = await h.record(SCOPE, 'xy-closed');
    expect(closed.status).toBe('resolved');
    const writes = h.writes();
    await move(h, key, 'Waiting for support'); // Reopen, in Jira
    await h.settle();
    const after = await h.record(SCOPE, 'xy-closed');
    expect(after.status).toBe('resolved');
    expect(after.version).toBe(closed.version);
    expect(h.writes() - writes).toBe(1); // Alice's transition only
    const log = await h.engine.records.getLog(SCOPE, 'xy-closed');
    expect(JSON.stringify(log.filter((e) => e.direction === 'inbound'))).toContain('forbids reopening');
    // Other changes to the request still come back.
    await h.alice.editIssue(key, { fields: { summary: 'Display wall offline (reopened in Jira)' } });
    await h.settle();
    const later = await h.record(SCOPE, 'xy-closed');
    expect([later.title, later.status]).toEqual(['Display wall offline (reopened in Jira)', 'resolved']);
  });
});

/** ITOC360: every issue of the project is an alert; open while active, resolved when done or deleted. */
const itocMapping = (): OutboundMapping => ({
  id: 'map-itoc',
  connectionId: CONNECTION_ID,
  scope: 'itoc360',
  projectKey: 'OPS',
  direction: 'from_jira',
  kinds: { alert: { issueType: 'Incident' } },
  statusOut: {},
  closedStatuses: ['resolved'],
  closeStatus: null,
  reopen: { mode: 'never' },
  severityToPriority: {},
  fields: [],
  labels: [],
  comments: false,
  inbound: inboundSettings({
    statusIn: { 'category:new': 'open', 'category:indeterminate': 'open', 'category:done': 'resolved' },
    priorityIn: { Highest: 'CRITICAL', High: 'HIGH', Medium: 'MEDIUM', Low: 'LOW' },
    priorityInDefault: 'LOW',
    comments: false,
    onJiraDelete: 'resolve',
    onJiraCreate: 'create_record',
    createKind: 'alert',
  }),
});

describeEachEngine('ITOC360: alerts from Jira issues', ({ fresh }) => {
  let db: TestDb;
  let h: InboundHarness;
  const SCOPE = 'itoc360';

  beforeAll(async () => {
    db = await fresh();
    h = await startInboundHarness(db, { mappings: [itocMapping()] });
  });
  afterAll(async () => {
    await h?.close();
  });

  const alertOf = (issueId: string | number) => h.record(SCOPE, `jira-${CONNECTION_ID}-${issueId}`);
  const alerts = async () =>
    (
      await db.store.db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('scope', '=', SCOPE)
        .executeTakeFirstOrThrow()
    ).n;

  it('an issue created in Jira opens an alert, fingerprinted by the issue, its priority mapped; done resolves it', async () => {
    const created = await h.alice.createIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'Checkout 5xx rate above 2%',
        priority: { name: 'Highest' },
      },
    });
    await h.settle();
    const a = await alertOf(created.id);
    expect([a.kind, a.title, a.status, a.severity]).toEqual([
      'alert',
      'Checkout 5xx rate above 2%',
      'open',
      'CRITICAL',
    ]);
    expect([a.link?.issue_id, a.link?.issue_key]).toEqual([String(created.id), created.key]);
    // Updates group under the same alert: priority follows, still one alert for the issue.
    await h.alice.editIssue(created.key, { fields: { priority: { name: 'Medium' } } });
    await move(h, created.key, 'In Progress');
    await h.settle();
    expect([(await alertOf(created.id)).severity, (await alertOf(created.id)).status]).toEqual(['MEDIUM', 'open']);
    await move(h, created.key, 'Done');
    await h.settle();
    expect((await alertOf(created.id)).status).toBe('resolved');
    const links = await db.store.db
      .selectFrom('links')
      .select('record_id')
      .where('issue_id', '=', String(created.id))
      .execute();
    expect(links).toHaveLength(1);
  });

  it('an issue created in a done status opens nothing until it becomes active, which opens it', async () => {
    const before = await alerts();
    const created = await h.alice.createIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Incident' },
        summary: 'Backfilled: disk full',
        priority: { name: 'Low' },
      },
      transition: { id: String((await doneTransitionId(h)) ?? '') },
    } as never);
    await h.settle();
    expect(h.sandbox.state.status(h.sandbox.state.issue(created.key)!.statusId).category).toBe('done');
    expect(await alerts()).toBe(before);
    await expect(alertOf(created.id)).rejects.toThrow(/No record/);
    const verdicts = await db.store.db
      .selectFrom('webhook_deliveries')
      .select('verdict')
      .where('issue_id', '=', String(created.id))
      .execute();
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((v) => v.verdict === 'ignored:out_of_scope')).toBe(true);
    // It becomes active (reopened): the alert opens.
    await move(h, created.key, 'To Do');
    await h.settle();
    const a = await alertOf(created.id);
    expect([a.status, a.severity]).toEqual(['open', 'LOW']);
    expect(await alerts()).toBe(before + 1);
  });

  it('a deleted issue resolves its alert', async () => {
    const created = await h.alice.createIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Incident' },
        summary: 'Queue backlog',
        priority: { name: 'High' },
      },
    });
    await h.settle();
    expect((await alertOf(created.id)).status).toBe('open');
    await h.alice.deleteIssue(created.key);
    await h.settle();
    const a = await alertOf(created.id);
    expect([a.status, a.severity, a.link?.state]).toEqual(['resolved', 'HIGH', 'unlinked']);
  });
});

/** The Done transition of the OPS workflow (for a create that lands in Done at once). */
async function doneTransitionId(h: InboundHarness): Promise<string | undefined> {
  const wf = [...h.sandbox.state.workflows.values()].find((w) => w.name === 'Software Simplified Workflow');
  return wf?.transitions.find((t) => t.name === 'Done')?.id;
}

describeEachEngine('StackFlow: a jira_to_stackflow mapping (direction from_jira)', ({ fresh }) => {
  let db: TestDb;
  let h: InboundHarness;
  const SCOPE = 'stackflow-changes';

  beforeAll(async () => {
    db = await fresh();
    h = await startInboundHarness(db, {
      mappings: [
        {
          id: 'map-changes',
          connectionId: CONNECTION_ID,
          scope: SCOPE,
          projectKey: 'OPS',
          direction: 'from_jira',
          kinds: { change: { issueType: 'Task' } },
          statusOut: { new: 'To Do', in_progress: 'In Progress' },
          closedStatuses: ['resolved'],
          closeStatus: 'Done',
          reopen: { mode: 'reopen' },
          severityToPriority: { P1: 'Highest', P2: 'High', P3: 'Medium', P4: 'Low' },
          fields: [],
          labels: [],
          comments: true,
          inbound: inboundSettings({ onJiraCreate: 'create_record' }),
        },
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('Jira changes reach the record; host changes cause no Jira call', async () => {
    const created = await h.alice.createIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'Rotate TLS certs',
        priority: { name: 'Medium' },
      },
    });
    await h.settle();
    const hostId = `jira-${CONNECTION_ID}-${created.id}`;
    const r0 = await h.record(SCOPE, hostId);
    expect([r0.kind, r0.title, r0.status, r0.severity]).toEqual(['change', 'Rotate TLS certs', 'new', 'P3']);
    await h.alice.editIssue(created.key, {
      fields: { summary: 'Rotate TLS certs (prod)', priority: { name: 'High' } },
    });
    await move(h, created.key, 'In Progress');
    await h.alice.addComment(created.key, {
      type: 'doc',
      version: 1,
      content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Starting with the edge nodes' }] }],
    } as never);
    await h.settle();
    const r1 = await h.record(SCOPE, hostId);
    expect([r1.title, r1.severity, r1.status]).toEqual(['Rotate TLS certs (prod)', 'P2', 'in_progress']);
    expect((await h.engine.records.listComments(SCOPE, hostId)).map((c) => [c.origin, c.body])).toEqual([
      ['jira', 'Starting with the edge nodes'],
    ]);

    // The host edits the record and comments: not a single Jira call follows.
    const calls = h.sandbox.calls.count();
    await h.engine.records.upsertRecord({
      scope: SCOPE,
      hostId,
      kind: 'change',
      title: 'Renamed on the platform',
      status: 'resolved',
      severity: 'P1',
    });
    await h.engine.records.addComment(SCOPE, hostId, { author: 'ops', body: 'Platform note', hostCommentId: 'n-1' });
    await h.settle();
    expect(h.sandbox.calls.count() - calls).toBe(0);
    const issue = h.sandbox.state.issue(created.key)!;
    expect(issue.summary).toBe('Rotate TLS certs (prod)');
    expect(issue.comments).toHaveLength(1);

    // Jira's next change still comes back and wins over the host's edit of that field.
    await h.alice.editIssue(created.key, { fields: { summary: 'Rotate TLS certs (prod, done by hand)' } });
    await h.settle();
    expect((await h.record(SCOPE, hostId)).title).toBe('Rotate TLS certs (prod, done by hand)');
  });
});
