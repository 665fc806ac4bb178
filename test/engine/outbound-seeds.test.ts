import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectedRequest } from '../../src/sandbox/app.js';
import { SEED } from '../../src/sandbox/seed.js';
import { describeEachEngine, freshSqlite, type TestDb } from '../helpers/db.js';
import {
  CONNECTION_ID,
  jsmMapping,
  opsMapping,
  secMapping,
  startHarness,
  type Harness,
  upsertIncident,
} from './harness.js';

const ISSUE_ROUTE = '/rest/api/3/issue/:issueIdOrKey';
const TRANSITIONS_ROUTE = '/rest/api/3/issue/:issueIdOrKey/transitions';

/** Every custom field type of the sandbox, the single-line text field (Sync Token) included. */
const FIELDS = [
  { host: 'cvss', jira: SEED.field.cvss, type: 'number' as const, direction: 'to_jira' as const },
  { host: 'asset_id', jira: SEED.field.asset, type: 'select' as const, direction: 'to_jira' as const },
  { host: 'url', jira: SEED.field.affectedUrl, type: 'url' as const, direction: 'to_jira' as const },
  { host: 'environments', jira: SEED.field.environment, type: 'multiselect' as const, direction: 'to_jira' as const },
  { host: 'owner', jira: SEED.field.componentOwner, type: 'user' as const, direction: 'to_jira' as const },
  { host: 'due', jira: SEED.field.due, type: 'date' as const, direction: 'to_jira' as const },
  { host: 'notes', jira: SEED.field.notes, type: 'textarea' as const, direction: 'to_jira' as const },
  { host: 'tags', jira: SEED.field.tags, type: 'labels' as const, direction: 'to_jira' as const },
  { host: 'ticket_ref', jira: SEED.field.syncToken, type: 'string' as const, direction: 'to_jira' as const },
];

describeEachEngine('seed behaviours, host → Jira', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;
  /** Bodies of the issue edits (PUT /issue/{id}) the sandbox received. */
  const edits: Array<{ fields?: Record<string, unknown>; update?: Record<string, unknown> }> = [];

  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db, {
      mappings: [secMapping({ fields: FIELDS }), opsMapping(), jsmMapping()],
      sandbox: {
        inspect: (r: InspectedRequest) => {
          if (r.method === 'PUT' && r.route === ISSUE_ROUTE) edits.push(r.body as (typeof edits)[number]);
        },
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const incident = (hostId: string, over: Record<string, unknown> = {}) =>
    upsertIncident(h, hostId, `Checkout latency (${hostId})`, { description: 'p99 over 2 s', ...over });
  const issueOf = async (scope: string, hostId: string) => {
    const r = await h.engine.records.getRecord(scope, hostId);
    expect(r.link?.issue_key, `record ${hostId}: ${JSON.stringify(r.sync)}`).toBeTruthy();
    return { record: r, issue: h.sandbox.state.issue(r.link!.issue_key!)! };
  };

  it('label added: the mapping’s label (stackflow-sync) is on every created issue, and a label added to the record reaches the issue', async () => {
    await incident('i-label');
    await h.drain();
    let { issue } = await issueOf('stackflow-incidents', 'i-label');
    expect(issue.labels).toContain('stackflow-sync');
    // Someone adds a label in Jira: it stays.
    h.sandbox.ops.editIssue(issue, { update: { labels: [{ add: 'triage-bot' }] } }, SEED.users.alice, 'adf');
    // (The host's change comes later: on an exact tie of the clocks Jira's change would win.)
    await new Promise((r) => setTimeout(r, 5));

    edits.length = 0;
    await incident('i-label', { labels: ['customer-impact'] });
    await h.drain();
    ({ issue } = await issueOf('stackflow-incidents', 'i-label'));
    // (jb-… is the creation token, kept.)
    expect(issue.labels.filter((l) => !l.startsWith('jb-')).sort()).toEqual([
      'customer-impact',
      'stackflow-sync',
      'triage-bot',
    ]);
    // Added with one edit operation, not by rewriting the whole list.
    expect(edits).toEqual([{ update: { labels: [{ add: 'customer-impact' }] } }]);
    // Jira's label comes back to the record; the record's label stays.
    await h.engine.syncIssue({ connectionId: CONNECTION_ID, issueId: issue.id, source: 'manual' });
    await h.drain();
    const r = await h.engine.records.getRecord('stackflow-incidents', 'i-label');
    expect(r.labels).toEqual(['customer-impact', 'triage-bot']);
  });

  it('update summary, priority and status: one read, one edit carrying both fields, then the transition', async () => {
    await incident('i-upd');
    await h.drain();
    const { issue } = await issueOf('stackflow-incidents', 'i-upd');
    expect(issue.statusId).toBe(SEED.status.toDo);
    expect(issue.priorityId).toBe('3'); // P3 → Medium

    h.sandbox.calls.reset();
    edits.length = 0;
    await incident('i-upd', { title: 'Checkout down in eu-west', severity: 'P1', status: 'in_progress' });
    await h.drain();
    const { record } = await issueOf('stackflow-incidents', 'i-upd');
    expect(record.sync).toMatchObject({ state: 'synced', error: null });
    expect(issue.summary).toBe('Checkout down in eu-west');
    expect(issue.priorityId).toBe('1'); // P1 → Highest
    expect(issue.statusId).toBe(SEED.status.inProgress);
    expect(edits).toEqual([{ fields: { summary: 'Checkout down in eu-west', priority: { name: 'Highest' } } }]);
    expect(h.sandbox.calls.count({ method: 'GET', route: ISSUE_ROUTE })).toBe(1);
    expect(h.sandbox.calls.count({ method: 'PUT', route: ISSUE_ROUTE })).toBe(1);
    expect(h.sandbox.calls.count({ method: 'POST', route: TRANSITIONS_ROUTE })).toBe(1);
    const last = (await h.engine.records.getLog('stackflow-incidents', 'i-upd')).at(-1)!;
    expect(last).toMatchObject({ action: 'updated', fields: { changed: ['summary', 'priority', 'status'] } });
  });

  it('a single-line text custom field (Sync Token) is set on create and on update', async () => {
    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'v-text',
      kind: 'vulnerability',
      title: 'Text field',
      status: 'open',
      custom: { ticket_ref: 'CHG-1001' },
    });
    await h.drain();
    const { issue } = await issueOf('astra-web', 'v-text');
    expect(issue.custom[SEED.field.syncToken]).toBe('CHG-1001');
    edits.length = 0;
    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'v-text',
      kind: 'vulnerability',
      title: 'Text field',
      status: 'open',
      custom: { ticket_ref: 'CHG-1002' },
    });
    await h.drain();
    expect(issue.custom[SEED.field.syncToken]).toBe('CHG-1002');
    expect(edits).toEqual([{ fields: { [SEED.field.syncToken]: 'CHG-1002' } }]);
  });

  it('custom fields of each type: a change to one reaches Jira in one edit carrying only that field', async () => {
    const initial: Record<string, unknown> = {
      cvss: 5.3,
      asset_id: 'web-portal',
      url: 'https://shop.example/a',
      environments: ['Staging'],
      owner: 'alice@sandbox.example',
      due: '2026-10-01',
      notes: 'first look',
      tags: ['pci'],
      ticket_ref: 'CHG-1',
    };
    const put = (custom: Record<string, unknown>) =>
      h.engine.records.upsertRecord({
        scope: 'astra-web',
        hostId: 'v-types',
        kind: 'vulnerability',
        title: 'Every type',
        status: 'open',
        custom,
      });
    await put(initial);
    await h.drain();
    const { issue } = await issueOf('astra-web', 'v-types');
    const changes: Array<[string, unknown, string, unknown, (stored: unknown) => void]> = [
      ['cvss', 9.1, SEED.field.cvss, 9.1, (v) => expect(v).toBe(9.1)],
      ['asset_id', 'customer-db', SEED.field.asset, { value: 'customer-db' }, (v) => expect(v).toBe('10102')],
      [
        'environments',
        ['Production', 'Staging'],
        SEED.field.environment,
        [{ value: 'Production' }, { value: 'Staging' }],
        (v) => expect(v).toEqual(['10110', '10111']),
      ],
      [
        'url',
        'https://shop.example/b',
        SEED.field.affectedUrl,
        'https://shop.example/b',
        (v) => expect(v).toBe('https://shop.example/b'),
      ],
      [
        'owner',
        'admin@sandbox.example',
        SEED.field.componentOwner,
        { accountId: SEED.users.admin },
        (v) => expect(v).toBe(SEED.users.admin),
      ],
      ['due', '2026-12-31', SEED.field.due, '2026-12-31', (v) => expect(v).toBe('2026-12-31')],
      [
        'notes',
        'second *look*',
        SEED.field.notes,
        expect.objectContaining({ type: 'doc' }),
        (v) => expect(JSON.stringify(v)).toContain('second'),
      ],
      [
        'tags',
        ['pci', 'auth'],
        SEED.field.tags,
        ['auth', 'pci'],
        (v) => expect(v).toEqual(expect.arrayContaining(['pci', 'auth'])),
      ],
      ['ticket_ref', 'CHG-2', SEED.field.syncToken, 'CHG-2', (v) => expect(v).toBe('CHG-2')],
    ];
    const custom = { ...initial };
    for (const [host, value, jiraId, sent, stored] of changes) {
      custom[host] = value;
      h.sandbox.calls.reset();
      edits.length = 0;
      await put({ ...custom });
      await h.drain();
      expect(h.sandbox.calls.count({ method: 'PUT', route: ISSUE_ROUTE }), host).toBe(1);
      expect(edits, host).toEqual([{ fields: { [jiraId]: sent } }]);
      stored(issue.custom[jiraId]);
      const r = await h.engine.records.getRecord('astra-web', 'v-types');
      expect(r.sync, host).toMatchObject({ state: 'synced', error: null });
    }
  });
});

describe('mapping direction (StackFlow’s sync_direction)', () => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, { mappings: [secMapping(), opsMapping()] });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  const incident = (hostId: string, over: Record<string, unknown> = {}) =>
    upsertIncident(h, hostId, `Queue backlog (${hostId})`, over);

  it('from_jira (jira_to_stackflow): host changes cost zero Jira calls, new and linked records alike', async () => {
    await incident('i-dir-linked');
    await h.drain();
    const linked = await h.engine.records.getRecord('stackflow-incidents', 'i-dir-linked');
    const issue = h.sandbox.state.issue(linked.link!.issue_key!)!;

    h.mappings.replace([secMapping(), opsMapping({ direction: 'from_jira' })]);
    // The linked record adopts the new mapping through a re-sync (mappings apply to new work).
    await h.engine.records.requestSync({ scope: 'stackflow-incidents', hostId: 'i-dir-linked' });
    await h.drain();
    h.sandbox.calls.reset();
    await incident('i-dir-new', { title: 'Never in Jira' });
    await incident('i-dir-linked', { title: 'Renamed on the host', severity: 'P1', status: 'in_progress' });
    await h.engine.records.addComment('stackflow-incidents', 'i-dir-linked', {
      author: 'ops',
      body: 'host note',
      hostCommentId: 'n-1',
    });
    await h.drain();
    expect(h.sandbox.calls.snapshot()).toEqual([]);
    const fresh = await h.engine.records.getRecord('stackflow-incidents', 'i-dir-new');
    expect(fresh.link).toBeNull();
    expect(fresh.sync.warnings).toContain('mapping direction is from_jira: nothing is pushed');
    expect(issue.summary).toBe('Queue backlog (i-dir-linked)');
    expect(issue.comments).toHaveLength(0);
  });

  it('to_jira: host changes reach Jira, Jira’s edits do not come back to the record', async () => {
    h.mappings.replace([secMapping(), opsMapping({ direction: 'to_jira' })]);
    await incident('i-dir-out');
    await h.drain();
    let r = await h.engine.records.getRecord('stackflow-incidents', 'i-dir-out');
    const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
    await incident('i-dir-out', { title: 'Renamed on the host' });
    await h.drain();
    expect(issue.summary).toBe('Renamed on the host');

    h.sandbox.ops.editIssue(issue, { fields: { summary: 'Renamed in Jira' } }, SEED.users.alice, 'adf');
    await h.engine.syncIssue({ connectionId: CONNECTION_ID, issueId: issue.id, source: 'manual' });
    await h.drain();
    r = await h.engine.records.getRecord('stackflow-incidents', 'i-dir-out');
    expect(r.title).toBe('Renamed on the host');
  });
});
