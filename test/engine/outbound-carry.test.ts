/**
 * Field edits carried by the last transition of a status change (issue 4: as few calls as the API
 * allows). Jira takes `fields`/`update` on a transition for the fields on its screen; the seeded
 * security workflow's "Resolve" screen has the resolution, the assignee and Notes (like Jira's
 * "Resolve Issue Screen"). A change of status + fields on that screen costs one call fewer than an
 * edit and the walk; anything else is edited as before, first, before the issue moves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectedRequest } from '../../src/sandbox/app.js';
import { SEED } from '../../src/sandbox/seed.js';
import { describeEachEngine, freshSqlite, type TestDb } from '../helpers/db.js';
import { secMapping, startHarness, type Harness } from './harness.js';

interface Seen {
  what: 'edit' | 'move' | 'list' | 'other';
  route: string;
  body: { fields?: Record<string, unknown>; update?: Record<string, unknown>; transition?: { id: string } };
}

/** What the bridge sent to Jira, in order (edits, moves, transition lists). */
function recorder(api: 2 | 3) {
  const seen: Seen[] = [];
  const issue = `/rest/api/${api}/issue/:issueIdOrKey`;
  const transitions = `${issue}/transitions`;
  return {
    seen,
    inspect(r: InspectedRequest) {
      const what =
        r.method === 'PUT' && r.route === issue
          ? 'edit'
          : r.method === 'POST' && r.route === transitions
            ? 'move'
            : r.method === 'GET' && r.route === transitions
              ? 'list'
              : 'other';
      seen.push({ what, route: r.route, body: (r.body ?? {}) as Seen['body'] });
    },
    count: (what: Seen['what']) => seen.filter((s) => s.what === what).length,
    /** Edits and moves in order, e.g. ['edit', 'move', 'move']. */
    order: () => seen.filter((s) => s.what === 'edit' || s.what === 'move').map((s) => s.what),
    moves: () => seen.filter((s) => s.what === 'move'),
  };
}

type Rec = ReturnType<typeof recorder>;

function helpers(get: () => Harness) {
  const vuln = (hostId: string, status: string, over: Record<string, unknown> = {}) =>
    get().engine.records.upsertRecord({
      scope: 'astra-web',
      hostId,
      kind: 'vulnerability',
      title: `Open redirect (${hostId})`,
      status,
      severity: 'high',
      ...over,
    });
  const issueOf = async (hostId: string) => {
    const r = await get().engine.records.getRecord('astra-web', hostId);
    expect(r.link?.issue_key, `record ${hostId}: ${JSON.stringify(r.sync)}`).toBeTruthy();
    return { record: r, issue: get().sandbox.state.issue(r.link!.issue_key!)! };
  };
  /** The last outbound 'updated' entry of the record's sync log. */
  const lastUpdate = async (hostId: string) => {
    const log = await get().engine.records.getLog('astra-web', hostId);
    const e = log.filter((x) => x.direction === 'outbound' && x.action === 'updated').at(-1);
    expect(e, JSON.stringify(log)).toBeDefined();
    return e!;
  };
  const statusOf = (issue: { statusId: string }) => get().sandbox.state.status(issue.statusId).name;
  return { vuln, issueOf, lastUpdate, statusOf };
}

const NOTES = SEED.field.notes;

type SandboxIssue = NonNullable<ReturnType<Harness['sandbox']['state']['issue']>>;

/** Alice moves the issue to `to` in Jira (a transition available where it is). */
function aliceMoves(h: Harness, issue: SandboxIssue, to: string): void {
  const t = h.sandbox.state
    .workflowFor(issue)
    .transitions.find(
      (x) => (x.from === 'global' || x.from.includes(issue.statusId)) && h.sandbox.state.status(x.to).name === to,
    )!;
  h.sandbox.ops.transitionIssue(issue, { transition: { id: t.id } }, SEED.users.alice, 'wiki');
}

/** Alice moves the record's issue through these statuses; the host's next change is newer. */
async function aliceWalks(h: Harness, hostId: string, statuses: string[]): Promise<void> {
  const r = await h.engine.records.getRecord('astra-web', hostId);
  const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
  for (const to of statuses) aliceMoves(h, issue, to);
  // (On an exact tie of the clocks Jira's change would win.)
  await new Promise((r) => setTimeout(r, 5));
}

describeEachEngine('status change carrying field edits (sandbox, Cloud)', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;
  const rec: Rec = recorder(3);
  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db, { mappings: [secMapping()], sandbox: { inspect: (r) => rec.inspect(r) } });
  });
  afterAll(async () => {
    await h.close();
  });
  const { vuln, issueOf, lastUpdate, statusOf } = helpers(() => h);

  it('first walk, several hops (the last screen unknown): the edit goes first, before any move, as before', async () => {
    await vuln('c-explore', 'open', { custom: { notes: 'scanner says open' } });
    await h.drain();
    rec.seen.length = 0;
    await vuln('c-explore', 'resolved', { custom: { notes: 'Fixed in 2.4.1' } });
    await h.drain();
    const { record, issue } = await issueOf('c-explore');
    expect(record.sync.state).toBe('synced');
    expect(statusOf(issue)).toBe('Resolved');
    expect(JSON.stringify(issue.custom[NOTES])).toContain('Fixed in 2.4.1');
    // Not certain it could ride on the last move: edited while the issue was still Open.
    expect(rec.order()).toEqual(['edit', 'move', 'move', 'move', 'move']);
    expect(rec.moves().every((m) => m.body.fields?.[NOTES] === undefined)).toBe(true);
    const e = await lastUpdate('c-explore');
    expect(e.fields).toMatchObject({ changed: ['custom:notes', 'status'] });
    expect(e.fields).not.toHaveProperty('carried');
    // read + edit + 4 × (list + move)
    expect(e.jira_calls).toBe(10);
  });

  it('known workflow, a field on the last screen: it rides on "Resolve" (no edit), one call fewer than a field off the screen', async () => {
    // Control: a field that is NOT on the Resolve screen (the summary) goes by an edit, first.
    await vuln('c-off', 'open');
    await vuln('c-on', 'open', { assignee_email: null });
    await h.drain();
    rec.seen.length = 0;
    await vuln('c-off', 'resolved', { title: 'Open redirect on /login (c-off)' });
    await h.drain();
    let { record, issue } = await issueOf('c-off');
    expect(record.sync.state).toBe('synced');
    expect(statusOf(issue)).toBe('Resolved');
    expect(issue.summary).toBe('Open redirect on /login (c-off)');
    expect(rec.order()).toEqual(['edit', 'move', 'move', 'move', 'move']);
    expect(rec.count('list')).toBe(0); // the workflow is known by now
    const offScreen = (await lastUpdate('c-off')).jira_calls;
    expect(offScreen).toBe(6); // read + edit + 4 moves

    rec.seen.length = 0;
    await vuln('c-on', 'resolved', { custom: { notes: 'Fixed in 2.4.1' }, assignee_email: 'alice@sandbox.example' });
    await h.drain();
    ({ record, issue } = await issueOf('c-on'));
    expect(record.sync.state).toBe('synced');
    expect(statusOf(issue)).toBe('Resolved');
    expect(issue.resolutionId).toBe(SEED.resolution.fixed); // the mapping's resolution still filled
    expect(JSON.stringify(issue.custom[NOTES])).toContain('Fixed in 2.4.1');
    expect(issue.assigneeId).toBe(SEED.users.alice);
    expect(rec.order()).toEqual(['move', 'move', 'move', 'move']);
    const last = rec.moves().at(-1)!.body;
    expect(last.transition?.id).toBe(SEED.secTransition.resolve);
    expect(Object.keys(last.fields ?? {}).sort()).toEqual(['assignee', NOTES, 'resolution'].sort());
    // Jira recorded the fields and the status in one change, by the bridge.
    const change = issue.changelog.at(-1)!;
    expect(change.items.map((i) => i.fieldId).sort()).toEqual(['assignee', NOTES, 'resolution', 'status'].sort());
    const e = await lastUpdate('c-on');
    expect(e.fields).toMatchObject({
      changed: expect.arrayContaining(['custom:notes', 'assignee', 'status']),
      carried: { transition: 'Resolve', fields: expect.arrayContaining(['custom:notes', 'assignee']) },
    });
    // read + user lookup + 4 moves: the edit's call is saved.
    expect(e.jira_calls).toBe(6);
    expect(rec.count('other')).toBe(2);

    // The carried values are the agreed ones now: a later change pushes only itself.
    rec.seen.length = 0;
    await vuln('c-on', 'resolved', {
      custom: { notes: 'Fixed in 2.4.1' },
      assignee_email: 'alice@sandbox.example',
      description: 'Validate the redirect target.',
    });
    await h.drain();
    expect(rec.order()).toEqual(['edit']);
    expect(Object.keys(rec.seen.find((s) => s.what === 'edit')!.body.fields ?? {})).toEqual(['description']);
  });

  it('fields on the screen and one off it: all go by the edit, first (nothing carried)', async () => {
    await vuln('c-mixed', 'open');
    await h.drain();
    rec.seen.length = 0;
    await vuln('c-mixed', 'resolved', { custom: { notes: 'Fixed in 2.4.1' }, labels: ['pentest-2024'] });
    await h.drain();
    const { record, issue } = await issueOf('c-mixed');
    expect(record.sync.state).toBe('synced');
    expect(issue.labels).toContain('pentest-2024');
    expect(JSON.stringify(issue.custom[NOTES])).toContain('Fixed in 2.4.1');
    expect(rec.order()).toEqual(['edit', 'move', 'move', 'move', 'move']);
    const edit = rec.seen.find((s) => s.what === 'edit')!.body;
    expect(Object.keys(edit.fields ?? {})).toEqual([NOTES]);
    expect(edit.update).toEqual({ labels: [{ add: 'pentest-2024' }] });
  });

  it('no status change: the field goes by an edit as always', async () => {
    await vuln('c-still', 'review');
    await h.drain();
    rec.seen.length = 0;
    await vuln('c-still', 'review', { custom: { notes: 'awaiting fix' } });
    await h.drain();
    const { issue } = await issueOf('c-still');
    expect(JSON.stringify(issue.custom[NOTES])).toContain('awaiting fix');
    expect(rec.order()).toEqual(['edit']);
  });

  it('a status change to a status whose last move has no such screen ("Triage"): edit first', async () => {
    await vuln('c-triage', 'open');
    await h.drain();
    rec.seen.length = 0;
    await vuln('c-triage', 'triaged', { custom: { notes: 'confirmed' } });
    await h.drain();
    const { issue } = await issueOf('c-triage');
    expect(statusOf(issue)).toBe('Triaged');
    expect(JSON.stringify(issue.custom[NOTES])).toContain('confirmed');
    expect(rec.order()).toEqual(['edit', 'move']);
  });

  it('a Jira admin took Notes off the Resolve screen after it was learnt: the carried move is refused, the edit goes alone, the move again, nothing lost', async () => {
    await vuln('c-stale', 'open');
    await vuln('c-stale-2', 'open');
    await h.drain();
    const wf = h.sandbox.state.workflowFor((await issueOf('c-stale')).issue);
    const resolve = wf.transitions.find((t) => t.id === SEED.secTransition.resolve)!;
    const screen = resolve.screen;
    resolve.screen = screen.filter((f) => f.fieldId !== NOTES);
    try {
      rec.seen.length = 0;
      await vuln('c-stale', 'resolved', { custom: { notes: 'Fixed in 2.4.1' } });
      await h.drain();
      const { record, issue } = await issueOf('c-stale');
      expect(record.sync.state).toBe('synced');
      expect(statusOf(issue)).toBe('Resolved');
      expect(JSON.stringify(issue.custom[NOTES])).toContain('Fixed in 2.4.1');
      // 3 moves, the carried Resolve (refused), the edit (in In Review), Resolve again.
      expect(rec.order()).toEqual(['move', 'move', 'move', 'move', 'edit', 'move']);
      const e = await lastUpdate('c-stale');
      expect(e.fields).toMatchObject({ changed: ['custom:notes', 'status'] });
      expect(e.fields).not.toHaveProperty('carried');

      // What was learnt of the workflow was dropped: the next walk reads the real screen and
      // edits first instead of being refused again.
      rec.seen.length = 0;
      await vuln('c-stale-2', 'resolved', { custom: { notes: 'Fixed in 2.4.2' } });
      await h.drain();
      const two = await issueOf('c-stale-2');
      expect(statusOf(two.issue)).toBe('Resolved');
      expect(JSON.stringify(two.issue.custom[NOTES])).toContain('Fixed in 2.4.2');
      expect(rec.order()).toEqual(['edit', 'move', 'move', 'move', 'move']);
    } finally {
      resolve.screen = screen;
    }
  });
});

describe('first walk of one hop (exploring): the transition list shows the screen, the field rides on it (SQLite, sandbox)', () => {
  let db: TestDb;
  let h: Harness;
  const rec: Rec = recorder(3);
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, { mappings: [secMapping()], sandbox: { inspect: (r) => rec.inspect(r) } });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });
  const { vuln, issueOf, lastUpdate, statusOf } = helpers(() => h);

  it('In Review → Resolved with Notes: list, then one move carrying it', async () => {
    await vuln('x-1', 'open');
    await h.drain();
    // The issue reached In Review in Jira (Alice), so the bridge's graph does not know its way yet.
    await aliceWalks(h, 'x-1', ['Triaged', 'In Progress', 'In Review']);
    rec.seen.length = 0;
    await vuln('x-1', 'resolved', { custom: { notes: 'Fixed in 2.4.1' } });
    await h.drain();
    const { record, issue } = await issueOf('x-1');
    expect(record.sync.state).toBe('synced');
    expect(statusOf(issue)).toBe('Resolved');
    expect(JSON.stringify(issue.custom[NOTES])).toContain('Fixed in 2.4.1');
    expect(rec.count('list')).toBe(1);
    expect(rec.order()).toEqual(['move']);
    expect(rec.moves()[0]!.body.fields).toHaveProperty(NOTES);
    // read + list + move (an edit more before).
    expect((await lastUpdate('x-1')).jira_calls).toBe(3);
  });
});

describe('a concurrent move while a carried edit is pending (SQLite, sandbox)', () => {
  let db: TestDb;
  let h: Harness;
  const rec: Rec = recorder(3);
  /** Runs once, just before the n-th next transition request reaches the sandbox. */
  let armed: { at: number; go: () => void } | null = null;
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, {
      mappings: [secMapping()],
      sandbox: {
        inspect: (r) => {
          rec.inspect(r);
          if (armed && r.method === 'POST' && r.route.endsWith('/transitions') && --armed.at === 0) {
            const { go } = armed;
            armed = null;
            go();
          }
        },
      },
    });
    // Learn the workflow once.
    await vuln('r-learn', 'open');
    await h.drain();
    await vuln('r-learn', 'resolved');
    await h.drain();
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });
  const { vuln, issueOf, statusOf } = helpers(() => h);

  for (const [at, label] of [
    [1, 'at the first hop'],
    [4, 'at the last hop, the one carrying the field'],
  ] as const) {
    it(`someone moves the issue ${label}: the field still reaches Jira, the job runs again, record and issue agree`, async () => {
      const id = `r-${at}`;
      await vuln(id, 'open');
      await h.drain();
      const issue = (await issueOf(id)).issue;
      armed = {
        at,
        go: () => (at === 1 ? ['Triaged', 'In Progress'] : ['In Progress']).forEach((to) => aliceMoves(h, issue, to)),
      };
      rec.seen.length = 0;
      await vuln(id, 'resolved', { custom: { notes: 'Fixed in 2.4.1' } });
      await h.drain();
      expect(armed).toBeNull(); // the race happened
      const { record } = await issueOf(id);
      expect(record.sync.state).toBe('synced');
      expect(JSON.stringify(issue.custom[NOTES])).toContain('Fixed in 2.4.1');
      expect({ 'In Progress': 'in_progress', Resolved: 'resolved' }[statusOf(issue)]).toBe(record.status);
      const log = await h.engine.records.getLog('astra-web', id);
      expect(JSON.stringify(log)).toContain('JIRA_MOVED_CONCURRENTLY');
      // The refused move left the edit to go on its own, once: the retry had nothing more to push.
      expect(rec.count('edit')).toBe(1);
    });
  }
});

describe('Data Center: the carried field in wiki markup (REST v2, SQLite, sandbox)', () => {
  let db: TestDb;
  let h: Harness;
  const rec: Rec = recorder(2);
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, {
      flavour: 'datacenter',
      mappings: [secMapping()],
      sandbox: { inspect: (r) => rec.inspect(r) },
    });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });
  const { vuln, issueOf, lastUpdate, statusOf } = helpers(() => h);

  it('a first walk of one hop, a first walk of several, a known one: carried, edited first, carried', async () => {
    await vuln('dc-a', 'open');
    await vuln('dc-b', 'open');
    await vuln('dc-c', 'open');
    await h.drain();
    // One hop, exploring: the list read shows Resolve's screen.
    await aliceWalks(h, 'dc-a', ['Triaged', 'In Progress', 'In Review']);
    rec.seen.length = 0;
    await vuln('dc-a', 'resolved', { custom: { notes: 'Fixed in **2.4.1**' } });
    await h.drain();
    const a = await issueOf('dc-a');
    expect(a.record.sync.state).toBe('synced');
    expect(statusOf(a.issue)).toBe('Resolved');
    expect(JSON.stringify(a.issue.custom[NOTES])).toContain('2.4.1');
    expect(rec.order()).toEqual(['move']);
    expect(rec.moves()[0]!.body.fields?.[NOTES]).toBe('Fixed in *2.4.1*'); // wiki markup on DC
    expect((await lastUpdate('dc-a')).jira_calls).toBe(3); // read + list + move

    // Several hops, exploring: edited first.
    rec.seen.length = 0;
    await vuln('dc-b', 'resolved', { custom: { notes: 'Fixed in 2.4.2' } });
    await h.drain();
    const b = await issueOf('dc-b');
    expect(statusOf(b.issue)).toBe('Resolved');
    expect(JSON.stringify(b.issue.custom[NOTES])).toContain('Fixed in 2.4.2');
    expect(rec.order()).toEqual(['edit', 'move', 'move', 'move', 'move']);

    // Known: carried, with the assignee (by user name on DC).
    rec.seen.length = 0;
    await vuln('dc-c', 'resolved', { custom: { notes: 'Fixed in 2.4.3' }, assignee_email: 'alice@sandbox.example' });
    await h.drain();
    const c = await issueOf('dc-c');
    expect(c.record.sync.state).toBe('synced');
    expect(statusOf(c.issue)).toBe('Resolved');
    expect(JSON.stringify(c.issue.custom[NOTES])).toContain('Fixed in 2.4.3');
    expect(c.issue.assigneeId).toBe(SEED.users.alice);
    expect(rec.order()).toEqual(['move', 'move', 'move', 'move']);
    expect(rec.count('list')).toBe(0);
    const last = rec.moves().at(-1)!.body.fields ?? {};
    expect(Object.keys(last).sort()).toEqual(['assignee', NOTES, 'resolution'].sort());
    expect(last.assignee).toEqual({ name: 'alice' });
    const dcCalls = (await lastUpdate('dc-c')).jira_calls;
    expect(dcCalls).toBe(6); // read + user lookup + 4 moves (7 with the edit)
  });
});
