/**
 * An unmatched Jira assignee (issue 18 item 6, StackFlow: "unmatched defaults to unassigned"):
 * when Jira's assignee has no email the record can match — bob hides his on Cloud — the mapping's
 * `assignee.unmatched` rule applies (unassign by default, or keep), and the record says so in
 * `sync.warnings` and in the change feed until Jira's assignee is one it can match again. Jira's
 * assignee is never changed back. On Cloud a user's profile hides the email (bob's); on Data Center
 * the site's "User email visibility" hides every user's, or masks it ("alice at sandbox dot
 * example", which is no address a record can have).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/seed.js';
import { fromJson } from '../../src/store/json.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { inboundSettings, opsMapping, secMapping } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

describeEachEngine('an unmatched Jira assignee (cloud)', ({ fresh }) => {
  let db: TestDb;
  let h: InboundHarness;

  beforeAll(async () => {
    db = await fresh();
    h = await startInboundHarness(db, {
      flavour: 'cloud',
      mappings: [
        opsMapping({ inbound: inboundSettings() }), // assignee.unmatched left to its default: unassign
        secMapping({ inbound: inboundSettings({ assigneeUnmatched: 'keep' }) }),
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const assignedToAlice = async (scope: string, hostId: string, kind: string) => {
    await h.engine.records.upsertRecord({
      scope,
      hostId,
      kind,
      title: `Assigned ${hostId}`,
      status: kind === 'incident' ? 'new' : 'open',
      severity: kind === 'incident' ? 'P3' : 'high',
      assignee_email: 'alice@sandbox.example',
    });
    await h.settle();
    const key = (await h.record(scope, hostId)).link!.issue_key!;
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.alice);
    return key;
  };
  const assignInJira = async (key: string, accountId: string) => {
    await h.alice.editIssue(key, { fields: { assignee: { accountId } } });
    await h.settle();
  };
  const feedOf = async (recordId: string) =>
    (
      await db.store.db
        .selectFrom('change_feed')
        .select(['event', 'data'])
        .where('record_id', '=', recordId)
        .orderBy('seq')
        .execute()
    ).map((r) => {
      const data = fromJson<Record<string, unknown>>(r.data);
      return { event: r.event, origin: data?.origin, data };
    });

  it('an unmatched Jira assignee unassigns the record and warns', async () => {
    const key = await assignedToAlice('stackflow-incidents', 'u-1', 'incident');
    await assignInJira(key, SEED.users.bob);
    const record = await h.record('stackflow-incidents', 'u-1');
    expect(record.assignee_email).toBeNull();
    expect(record.sync.warnings).toEqual([
      `assignee: Jira's assignee "Bob Builder" has no email jira-bridge can match (hidden by the user's privacy settings, or none); the record is unassigned (assignee.unmatched: unassign)`,
    ]);
    // Jira keeps bob: the record's null is no change of the host's to push back.
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.bob);
    const feed = await feedOf(record.id);
    expect(feed.at(-1)).toMatchObject({
      event: 'record.updated',
      data: { fields: ['assignee'], warnings: record.sync.warnings },
    });
    // Another Jira change later: still unassigned, the same warning, no second feed entry for it.
    await h.alice.editIssue(key, { fields: { summary: 'Assigned u-1, renamed in Jira' } });
    await h.settle();
    const later = await h.record('stackflow-incidents', 'u-1');
    expect([later.title, later.assignee_email, later.sync.warnings]).toEqual([
      'Assigned u-1, renamed in Jira',
      null,
      record.sync.warnings,
    ]);
    const warned = (await feedOf(record.id)).filter(
      (e) => e.origin === 'jira' && (e.data?.warnings as unknown[])?.length,
    );
    expect(warned).toHaveLength(1);
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.bob);
  });

  it('the warning clears when Jira’s assignee is one the record can match again', async () => {
    const key = (await h.record('stackflow-incidents', 'u-1')).link!.issue_key!;
    await assignInJira(key, SEED.users.alice);
    const record = await h.record('stackflow-incidents', 'u-1');
    expect([record.assignee_email, record.sync.warnings]).toEqual(['alice@sandbox.example', []]);
    const listed = await h.engine.records.listRecords({ scope: 'stackflow-incidents' });
    expect(listed.records.find((r) => r.host_id === 'u-1')?.sync.warnings).toEqual([]);
  });

  it('with assignee.unmatched: keep the record keeps its assignee and warns', async () => {
    const key = await assignedToAlice('astra-web', 'k-1', 'vulnerability');
    await assignInJira(key, SEED.users.bob);
    const record = await h.record('astra-web', 'k-1');
    expect(record.assignee_email).toBe('alice@sandbox.example');
    expect(record.sync.warnings).toEqual([
      `assignee: Jira's assignee "Bob Builder" has no email jira-bridge can match (hidden by the user's privacy settings, or none); the record keeps alice@sandbox.example (assignee.unmatched: keep)`,
    ]);
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.bob);
    expect((await feedOf(record.id)).at(-1)).toMatchObject({
      event: 'record.updated',
      data: { fields: [], warnings: record.sync.warnings },
    });
  });
});

describeEachEngine('an unmatched Jira assignee (datacenter: the site hides or masks emails)', ({ fresh }) => {
  let db: TestDb;
  let h: InboundHarness;

  beforeAll(async () => {
    db = await fresh();
    h = await startInboundHarness(db, {
      flavour: 'datacenter',
      mappings: [
        opsMapping({ inbound: inboundSettings() }), // assignee.unmatched left to its default: unassign
        secMapping({ inbound: inboundSettings({ assigneeUnmatched: 'keep' }) }),
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const assignedToAlice = async (scope: string, hostId: string, kind: string) => {
    h.sandbox.state.emailVisibility = 'show';
    await h.engine.records.upsertRecord({
      scope,
      hostId,
      kind,
      title: `Assigned ${hostId}`,
      status: kind === 'incident' ? 'new' : 'open',
      severity: kind === 'incident' ? 'P3' : 'high',
      assignee_email: 'alice@sandbox.example',
    });
    await h.settle();
    const key = (await h.record(scope, hostId)).link!.issue_key!;
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.alice);
    return key;
  };
  const assignInJira = async (key: string, name: 'alice' | 'bob') => {
    await h.alice.editIssue(key, { fields: { assignee: { name } } });
    await h.settle();
  };
  const unassigned = (who: string) =>
    `assignee: Jira's assignee "${who}" has no email jira-bridge can match (hidden by the user's privacy settings, or none); the record is unassigned (assignee.unmatched: unassign)`;

  it('an unmatched Jira assignee unassigns the record and warns (emails hidden)', async () => {
    const key = await assignedToAlice('stackflow-incidents', 'd-1', 'incident');
    h.sandbox.state.emailVisibility = 'hide';
    await assignInJira(key, 'bob');
    const record = await h.record('stackflow-incidents', 'd-1');
    expect([record.assignee_email, record.sync.warnings]).toEqual([null, [unassigned('Bob Builder')]]);
    // Jira keeps bob: the record's null is no change of the host's to push back.
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.bob);
  });

  it('a masked email is no email either: the rule applies and the warning names the new assignee', async () => {
    const key = (await h.record('stackflow-incidents', 'd-1')).link!.issue_key!;
    h.sandbox.state.emailVisibility = 'mask';
    await assignInJira(key, 'alice');
    const record = await h.record('stackflow-incidents', 'd-1');
    expect([record.assignee_email, record.sync.warnings]).toEqual([null, [unassigned('Alice Analyst')]]);
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.alice);
  });

  it('the warning clears when the site shows emails again and Jira’s assignee can be matched', async () => {
    const key = (await h.record('stackflow-incidents', 'd-1')).link!.issue_key!;
    h.sandbox.state.emailVisibility = 'show';
    await assignInJira(key, 'bob');
    const record = await h.record('stackflow-incidents', 'd-1');
    expect([record.assignee_email, record.sync.warnings]).toEqual(['bob@sandbox.example', []]);
  });

  it('with assignee.unmatched: keep the record keeps its assignee and warns', async () => {
    const key = await assignedToAlice('astra-web', 'd-2', 'vulnerability');
    h.sandbox.state.emailVisibility = 'hide';
    await assignInJira(key, 'bob');
    const record = await h.record('astra-web', 'd-2');
    expect([record.assignee_email, record.sync.warnings]).toEqual([
      'alice@sandbox.example',
      [
        `assignee: Jira's assignee "Bob Builder" has no email jira-bridge can match (hidden by the user's privacy settings, or none); the record keeps alice@sandbox.example (assignee.unmatched: keep)`,
      ],
    ]);
    expect(h.sandbox.state.issue(key)!.assigneeId).toBe(SEED.users.bob);
  });
});
