/**
 * The status rules of both planners with the changelog's author (issue 16): a hop of our journaled
 * walk is ours only when jira-bridge's own account made it, and a Jira user's move since our create
 * (the status never agreed) is weighed against the host's change — the newer wins, on both sides.
 */
import { describe, expect, it } from 'vitest';
import type { Actor, JournalEntry, StatusChange } from '../../src/core/journal.js';
import { planInboundStatus, STATUS_BASE as IN_STATUS_BASE } from '../../src/core/plan-inbound.js';
import {
  HOST_STATUS_BASE,
  planStatus,
  STATUS_BASE,
  TARGET_STATUS_BASE,
  type StatusPlanInput,
} from '../../src/core/plan-outbound.js';

const ME: Actor = { accountId: 'jira-bridge' };
const ALICE: Actor = { accountId: 'alice' };

let n = 0;
const hop = (from: string, to: string, outcome: JournalEntry['outcome']): JournalEntry => ({
  id: `j${n++}`,
  target: '10001',
  intent: { op: 'transition', from, to, transition: '11' },
  outcome,
});
const created: JournalEntry = { id: 'c', target: '10001', intent: { op: 'create', values: {} }, outcome: 'done' };

/** The record wants In Progress (host status in_progress, changed at t=100); Jira is in Triaged. */
function outbound(p: {
  bases: Record<string, string>;
  journal: JournalEntry[];
  last: StatusChange;
  at: number;
  me?: Actor;
  force?: boolean;
  hostWins?: boolean;
}): ReturnType<typeof planStatus> {
  const input: StatusPlanInput = {
    want: { status: 'In Progress', closing: false },
    hostStatus: 'in_progress',
    bases: new Map(Object.entries(p.bases)),
    force: p.force ?? false,
    hostWins: p.hostWins,
    journal: p.journal,
    me: p.me ?? ME,
    issue: {
      key: 'SEC-1',
      id: '10001',
      status: { name: 'Triaged', category: 'indeterminate' },
      lastStatusChange: p.last,
      statusChangedAt: p.at,
    },
    hostStatusAt: 100,
    knownKey: 'SEC-1',
    reopen: 'reopen',
    recordVersion: 2,
  };
  return planStatus(input);
}

const agreedOpen = { [STATUS_BASE]: 'Open', [HOST_STATUS_BASE]: 'open', [TARGET_STATUS_BASE]: 'Open' };

describe('outbound status plan: whose move it is', () => {
  it('our walk’s hop cut off, a Jira user made the same move later: Jira’s newer move wins', () => {
    const journal = [hop('Open', 'Triaged', null)];
    const user = outbound({ bases: agreedOpen, journal, last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 200 });
    expect(user).toMatchObject({ kind: 'jira_wins', conflict: { field: 'status', lost: 'in_progress' } });
    expect(user.kind === 'jira_wins' && user.bases).toBeUndefined(); // the stored bases say it already
    // The same move by our account is our hop: the walk goes on.
    const ours = outbound({ bases: agreedOpen, journal, last: { from: 'Open', to: 'Triaged', by: ME }, at: 200 });
    expect(ours).toMatchObject({ kind: 'walk', from: 'Triaged', to: 'In Progress' });
    // The author unknown: the names decide (taken as ours), as before.
    const anon = outbound({ bases: agreedOpen, journal, last: { from: 'Open', to: 'Triaged', by: null }, at: 200 });
    expect(anon.kind).toBe('walk');
    // The host's change newer than the user's: the host's status is walked to.
    const older = outbound({ bases: agreedOpen, journal, last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 50 });
    expect(older.kind).toBe('walk');
  });

  it('a Jira user’s move between our create and its walk: the newer of it and the host’s change wins', () => {
    const journal = [created];
    const moved = outbound({ bases: {}, journal, last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 200 });
    expect(moved).toMatchObject({ kind: 'jira_wins', rule: 'jira_newer' });
    // Where our side left it and the host status decided against; no target (looked at again).
    expect(moved.kind === 'jira_wins' && moved.bases).toEqual(
      new Map([
        [STATUS_BASE, 'Open'],
        [HOST_STATUS_BASE, 'in_progress'],
      ]),
    );
    // Older than the host's change: our walk goes on from where the user left it.
    expect(outbound({ bases: {}, journal, last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 50 })).toMatchObject({
      kind: 'walk',
      from: 'Triaged',
    });
    // The create's own walk made the move (a hop of ours): no user's move.
    const walked = [created, hop('Open', 'Triaged', null)];
    expect(outbound({ bases: {}, journal: walked, last: { from: 'Open', to: 'Triaged', by: ME }, at: 200 }).kind).toBe(
      'walk',
    );
    // … but a user repeating that hop is one.
    expect(
      outbound({ bases: {}, journal: walked, last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 200 }).kind,
    ).toBe('jira_wins');
    // An adopted issue (forced status check) weighs it too; a manual re-sync does not.
    expect(
      outbound({
        bases: {},
        journal,
        last: { from: 'Open', to: 'Triaged', by: ALICE },
        at: 200,
        force: true,
        hostWins: false,
      }).kind,
    ).toBe('jira_wins');
    expect(
      outbound({ bases: {}, journal, last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 200, force: true }).kind,
    ).toBe('walk');
    // No create of ours in the journal (an issue linked before it, or its rows pruned): as before.
    expect(outbound({ bases: {}, journal: [], last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 200 }).kind).toBe(
      'walk',
    );
  });

  it('once the journal is gone, the bases of that decision keep Jira’s move (no walk over it)', () => {
    const bases = { [STATUS_BASE]: 'Open', [HOST_STATUS_BASE]: 'in_progress' };
    const again = outbound({ bases, journal: [], last: { from: 'Open', to: 'Triaged', by: ALICE }, at: 200 });
    expect(again.kind).toBe('jira_wins');
  });
});

describe('inbound status plan: whose move it is', () => {
  const table = { Open: 'open', Triaged: 'triaged', 'In Progress': 'in_progress' };
  const plan = (bases: Record<string, string>, journal: JournalEntry[], last: StatusChange, jiraAt: number) =>
    planInboundStatus(
      {
        flowsIn: true,
        jira: { id: '2', name: 'Triaged' },
        lastChange: last,
        me: ME,
        table,
        closedStatuses: [],
        reopenFromJira: true,
        hostChangedAt: 100,
        jiraChangedAt: jiraAt,
      },
      { status: 'in_progress', assignee_email: null },
      new Map(Object.entries(bases)),
      journal,
      '10001',
      () => 'In Progress',
    );

  it('a Jira user’s move repeating our cut-off hop reaches the record (newer than the host’s change)', () => {
    const journal = [hop('Open', 'Triaged', null)];
    const user = plan(agreedOpen, journal, { from: 'Open', to: 'Triaged', by: ALICE }, 200);
    expect(user).toMatchObject({ rule: 'jira_newer', changed: true, data: { status: 'triaged' } });
    expect(user.bases).toContainEqual([IN_STATUS_BASE, 'Triaged']);
    expect(plan(agreedOpen, journal, { from: 'Open', to: 'Triaged', by: ME }, 200)).toMatchObject({
      rule: 'ours',
      changed: false,
    });
  });

  it('a Jira user’s move since our create: the newer of it and the host’s status wins', () => {
    expect(plan({}, [created], { from: 'Open', to: 'Triaged', by: ALICE }, 200)).toMatchObject({
      rule: 'jira_newer',
      data: { status: 'triaged' },
    });
    expect(plan({}, [created], { from: 'Open', to: 'Triaged', by: ALICE }, 50)).toMatchObject({
      rule: 'host_newer',
      changed: false,
      push: true,
    });
  });
});
