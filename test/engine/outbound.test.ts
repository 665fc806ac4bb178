import { afterAll, beforeAll, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/seed.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { issuesOf, opsMapping, secMapping, startHarness, type Harness } from './harness.js';

const ISSUE_ROUTE = '/rest/api/3/issue/:issueIdOrKey';

describeEachEngine('outbound engine against the sandbox', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db);
  });
  afterAll(async () => {
    await h.close();
  });

  const upsert = (hostId: string, over: Record<string, unknown> = {}, scope = 'astra-web') =>
    h.engine.records.upsertRecord({
      scope,
      hostId,
      kind: 'vulnerability',
      title: `SQL injection in /login (${hostId})`,
      description: '## Details\n\nThe `user` parameter is **not** escaped.',
      status: 'open',
      severity: 'critical',
      ...over,
    });

  const issueOf = async (hostId: string, scope = 'astra-web') => {
    const r = await h.engine.records.getRecord(scope, hostId);
    expect(r.link?.issue_key, `record ${hostId} should be linked (sync: ${JSON.stringify(r.sync)})`).toBeTruthy();
    return { record: r, issue: h.sandbox.state.issue(r.link!.issue_key!)! };
  };

  it('create with full details: summary, description, priority, labels, assignee, custom fields of each type', async () => {
    await upsert('v-full', {
      labels: ['owasp a03', 'web'],
      assignee_email: 'Alice@Sandbox.example',
      custom: {
        cvss: 9.8,
        asset_id: 'payments-api',
        url: 'https://shop.example/login',
        environments: ['Production', 'Staging'],
        owner: 'alice@sandbox.example',
        due: '2026-12-31',
        notes: 'Found by *DAST* scan',
        tags: ['pci', 'auth'],
      },
    });
    await h.drain();
    const { record, issue } = await issueOf('v-full');
    expect(record.sync).toEqual({ state: 'synced', error: null, warnings: [] });
    expect(record.link?.browse_url).toBe(`${h.sandbox.baseUrl}/browse/${issue.key}`);
    expect(record.link?.issue_id).toBe(issue.id);
    expect(issue.summary).toBe('SQL injection in /login (v-full)');
    expect(issue.issueTypeId).toBe(SEED.issueType.vulnerability);
    expect(issue.priorityId).toBe('1'); // critical → Highest
    expect(issue.labels).toEqual(expect.arrayContaining(['astra', 'owasp_a03', 'web']));
    expect(issue.assigneeId).toBe(SEED.users.alice);
    expect(JSON.stringify(issue.description)).toContain('not');
    const c = issue.custom;
    expect(c[SEED.field.cvss]).toBe(9.8);
    expect(JSON.stringify(c[SEED.field.asset])).toContain('10101');
    expect(c[SEED.field.affectedUrl]).toBe('https://shop.example/login');
    expect(JSON.stringify(c[SEED.field.environment])).toContain('10110');
    expect(JSON.stringify(c[SEED.field.environment])).toContain('10111');
    expect(JSON.stringify(c[SEED.field.componentOwner])).toContain(SEED.users.alice);
    expect(c[SEED.field.due]).toBe('2026-12-31');
    expect(JSON.stringify(c[SEED.field.notes])).toContain('DAST');
    expect(c[SEED.field.tags]).toEqual(expect.arrayContaining(['pci', 'auth']));
  });

  it('assignee whose email Jira hides is left unassigned with a visible warning', async () => {
    await upsert('v-bob', { assignee_email: 'bob@sandbox.example' });
    await h.drain();
    const { record, issue } = await issueOf('v-bob');
    expect(issue.assigneeId).toBeNull();
    expect(record.sync.state).toBe('synced');
    expect(record.sync.warnings.join(' ')).toMatch(/bob@sandbox\.example.*unassigned/);
  });

  it('severity → priority uses the default for an unmapped severity', async () => {
    await upsert('v-sev', { severity: 'catastrophic' });
    await h.drain();
    const { issue } = await issueOf('v-sev');
    expect(issue.priorityId).toBe('4'); // default Low, not the site default Medium
  });

  it('a no-op upsert costs zero Jira calls; an update sends only the changed field in one edit', async () => {
    await upsert('v-upd');
    await h.drain();
    h.sandbox.calls.reset();
    const same = await upsert('v-upd');
    expect(same.changed).toBe(false);
    await h.drain();
    expect(h.sandbox.calls.count()).toBe(0);

    const { issue } = await issueOf('v-upd');
    const historyBefore = issue.changelog.length;
    await upsert('v-upd', { title: 'SQL injection in /login (renamed)' });
    await h.drain();
    // One read (a field Jira changed meanwhile is never clobbered) and one edit.
    expect(h.sandbox.calls.count({ method: 'PUT', route: ISSUE_ROUTE })).toBe(1);
    expect(h.sandbox.calls.count({ method: 'GET', route: ISSUE_ROUTE })).toBe(1);
    expect(h.sandbox.calls.count()).toBe(2);
    expect(issue.summary).toBe('SQL injection in /login (renamed)');
    const changed = issue.changelog.slice(historyBefore).flatMap((c) => c.items.map((i) => i.field));
    expect(changed).toEqual(['summary']);

    h.sandbox.calls.reset();
    await upsert('v-upd', { title: 'SQL injection in /login (renamed)', severity: 'low' });
    await h.drain();
    expect(issue.priorityId).toBe('4');
    expect(h.sandbox.calls.count()).toBe(2);
    const log = await h.engine.records.getLog('astra-web', 'v-upd');
    const last = log.at(-1)!;
    expect(last.action).toBe('updated');
    expect(last.jira_calls).toBe(2);
    expect((last.fields as { changed: string[] }).changed).toEqual(['priority']);
  });

  it('transition on resolve walks several hops and fills the required resolution', async () => {
    await upsert('v-res');
    await h.drain();
    await upsert('v-res', { status: 'resolved' });
    await h.drain();
    const { record, issue } = await issueOf('v-res');
    expect(record.sync.state).toBe('synced');
    expect(issue.statusId).toBe(SEED.status.resolved);
    expect(issue.resolutionId).toBe(SEED.resolution.fixed);
    const log = await h.engine.records.getLog('astra-web', 'v-res');
    expect((log.at(-1)!.fields as { path: string[] }).path).toEqual([
      'Triaged',
      'In Progress',
      'In Review',
      'Resolved',
    ]);
  });

  it('a burst of 20 changes coalesces into at most 2 Jira edits', async () => {
    await upsert('v-burst');
    await h.drain();
    h.sandbox.calls.reset();
    for (let i = 1; i <= 20; i++) await upsert('v-burst', { title: `Burst ${i}` });
    await h.drain();
    expect(h.sandbox.calls.count({ method: 'PUT', route: ISSUE_ROUTE })).toBeLessThanOrEqual(2);
    const { issue } = await issueOf('v-burst');
    expect(issue.summary).toBe('Burst 20');
  });

  it('a finding is created as a sub-task under its vulnerability', async () => {
    await upsert('v-parent');
    await upsert('f-child', { kind: 'finding', title: 'Occurrence on /login?user=', parent_host_id: 'v-parent' });
    await h.drain();
    const parent = await issueOf('v-parent');
    const child = await issueOf('f-child');
    expect(child.issue.issueTypeId).toBe(SEED.issueType.finding);
    expect(child.issue.parentId).toBe(parent.issue.id);
  });

  it('comments are posted once, with their author, and never again on a re-sync', async () => {
    await upsert('v-com');
    await h.engine.records.addComment('astra-web', 'v-com', {
      author: 'Dana',
      body: 'Please fix by Friday',
      hostCommentId: 'c1',
    });
    await h.engine.records.addComment('astra-web', 'v-com', {
      author: 'Dana',
      body: 'Please fix by Friday',
      hostCommentId: 'c1',
    });
    await h.engine.records.addComment('astra-web', 'v-com', {
      author: 'Eve',
      body: 'Retest scheduled',
      hostCommentId: 'c2',
    });
    await h.drain();
    const { issue } = await issueOf('v-com');
    expect(issue.comments).toHaveLength(2);
    expect(JSON.stringify(issue.comments[0]!.body)).toContain('Dana');
    await h.engine.records.requestSync({ scope: 'astra-web', hostId: 'v-com' });
    await h.drain();
    expect(issue.comments).toHaveLength(2);
    // The host edits a comment: the same Jira comment is updated, none is added.
    await h.engine.records.addComment('astra-web', 'v-com', {
      author: 'Dana',
      body: 'Please fix by Monday',
      hostCommentId: 'c1',
    });
    await h.drain();
    expect(issue.comments).toHaveLength(2);
    expect(JSON.stringify(issue.comments[0]!.body)).toContain('Monday');
  });

  it('a permanent error marks the record failed with Jira’s message; a retry after the fix works', async () => {
    h.mappings.replace([secMapping({ severityToPriority: { critical: 'Urgent' } }), opsMapping()]);
    try {
      await upsert('v-bad');
      await h.drain();
      const failed = await h.engine.records.getRecord('astra-web', 'v-bad');
      expect(failed.sync.state).toBe('failed');
      expect(failed.sync.error?.code).toBe('JIRA_BAD_REQUEST');
      expect(failed.sync.error?.message).toMatch(/priority/i);
      expect(issuesOf(h.sandbox, 'SEC').filter((i) => i.summary.includes('(v-bad)'))).toHaveLength(0);
    } finally {
      h.mappings.replace([secMapping(), opsMapping()]);
    }
    await h.engine.records.requestSync({ scope: 'astra-web', hostId: 'v-bad' });
    await h.drain();
    const { record, issue } = await issueOf('v-bad');
    expect(record.sync).toMatchObject({ state: 'synced', error: null });
    expect(issue.priorityId).toBe('1');
  });

  it('a status no transition reaches fails the record naming current status, target and transitions', async () => {
    h.mappings.replace([secMapping(), opsMapping({ statusOut: { new: 'To Do', review: 'In Review' } })]);
    try {
      await upsert('i-nopath', { kind: 'incident', status: 'new', severity: 'P2' }, 'stackflow-incidents');
      await h.drain();
      await upsert('i-nopath', { kind: 'incident', status: 'review', severity: 'P2' }, 'stackflow-incidents');
      await h.drain();
    } finally {
      h.mappings.replace([secMapping(), opsMapping()]);
    }
    const r = await h.engine.records.getRecord('stackflow-incidents', 'i-nopath');
    expect(r.sync.state).toBe('failed');
    expect(r.sync.error?.code).toBe('JIRA_TRANSITION_UNAVAILABLE');
    expect(r.sync.error?.message).toMatch(/from "To Do" to "In Review"/);
    expect(r.sync.error?.message).toMatch(/transitions available from "In Progress": "Done" → Done/);
  });

  it('an unknown target status fails before any transition is made', async () => {
    h.mappings.replace([secMapping(), opsMapping({ statusOut: { new: 'To Do', limbo: 'Limbo' } })]);
    try {
      await upsert('i-limbo', { kind: 'incident', status: 'new' }, 'stackflow-incidents');
      await h.drain();
      h.sandbox.calls.reset();
      await upsert('i-limbo', { kind: 'incident', status: 'limbo' }, 'stackflow-incidents');
      await h.drain();
    } finally {
      h.mappings.replace([secMapping(), opsMapping()]);
    }
    const r = await h.engine.records.getRecord('stackflow-incidents', 'i-limbo');
    expect(r.sync.error?.message).toMatch(/"Limbo" does not exist/);
    expect(h.sandbox.calls.count({ method: 'POST', route: '/rest/api/3/issue/:issueIdOrKey/transitions' })).toBe(0);
  });

  it('a changed mapping applies to new records; linked ones keep their snapshot until re-synced', async () => {
    await upsert('v-snap');
    await h.drain();
    const { issue: old } = await issueOf('v-snap');
    expect(old.priorityId).toBe('1');
    h.mappings.replace([secMapping({ severityToPriority: { critical: 'Low' } }), opsMapping()]);
    try {
      await upsert('v-snap', { title: 'Snapshot kept (v-snap)' });
      await upsert('v-snap-new');
      await h.drain();
      expect(old.summary).toBe('Snapshot kept (v-snap)');
      expect(old.priorityId).toBe('1'); // the mapping recorded at link time still applies
      expect((await issueOf('v-snap-new')).issue.priorityId).toBe('4');
      await h.engine.records.requestSync({ scope: 'astra-web', hostId: 'v-snap' });
      await h.drain();
      expect(old.priorityId).toBe('4'); // a manual re-sync adopts the current mapping
    } finally {
      h.mappings.replace([secMapping(), opsMapping()]);
    }
  });

  it('concurrent upserts of the same new record give one record and one issue', async () => {
    const w1 = h.startWorker(2);
    const w2 = h.startWorker(2);
    try {
      await Promise.all(Array.from({ length: 6 }, (_, i) => upsert('v-race', { description: `attempt ${i % 2}` })));
    } finally {
      await w1.stop();
      await w2.stop();
    }
    await h.drain();
    expect(issuesOf(h.sandbox, 'SEC').filter((i) => i.summary.includes('(v-race)'))).toHaveLength(1);
    const page = await h.engine.records.listRecords({ scope: 'astra-web', limit: 500 });
    expect(page.records.filter((r) => r.host_id === 'v-race')).toHaveLength(1);
  });
});
