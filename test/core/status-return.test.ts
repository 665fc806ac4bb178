/**
 * A Jira user's move that won over the host's status, then a move back to where our side left the
 * issue before any inbound run read it (pure: planStatus and planInbound over the stored state).
 * The outbound job that decided "Jira's move wins" queues no further outbound job, and the sweep
 * queues inbound runs only, so the inbound run is the one that must settle the status: with the
 * status never agreed (our create's walk cut off) it brings Jira's status to the record (the newest
 * change, and the side that already won); with an agreed status it queues the host's push again.
 */
import { describe, expect, it } from 'vitest';
import type { Actor, JournalEntry, StatusChange } from '../../src/core/journal.js';
import { planInbound, type InboundPlanInput, type PlannedData } from '../../src/core/plan-inbound.js';
import { HOST_STATUS_BASE, STATUS_BASE, TARGET_STATUS_BASE, planStatus } from '../../src/core/plan-outbound.js';

const ME: Actor = { accountId: 'jira-bridge' };
const ALICE: Actor = { accountId: 'alice' };
const STATUSES = ['Open', 'Triaged', 'Doing', 'Review', 'Done'];
const hostOf = (jira: string): string => jira.toLowerCase();
const jiraOf = (host: string): string => STATUSES.find((s) => s.toLowerCase() === host)!;

interface Jira {
  status: string;
  at: number;
  last?: StatusChange | undefined;
}

function outboundStatus(
  data: PlannedData,
  hostAt: number,
  bases: Map<string, unknown>,
  journal: JournalEntry[],
  j: Jira,
) {
  return planStatus({
    want: { status: jiraOf(data.status), closing: false },
    hostStatus: data.status,
    bases,
    force: false,
    journal,
    me: ME,
    issue: { key: 'SEC-1', id: 'I-1', status: { name: j.status }, lastStatusChange: j.last, statusChangedAt: j.at },
    hostStatusAt: hostAt,
    knownKey: 'SEC-1',
    reopen: 'reopen',
    recordVersion: 1,
  });
}

function inboundInput(
  data: PlannedData,
  hostAt: number,
  bases: Map<string, unknown>,
  journal: JournalEntry[],
  j: Jira,
): InboundPlanInput<PlannedData> {
  return {
    issue: { id: 'I-1', key: 'SEC-1', projectKey: 'SEC' },
    linkedKey: 'SEC-1',
    data,
    bases,
    journal,
    fields: [],
    status: {
      flowsIn: true,
      jira: { id: j.status, name: j.status },
      lastChange: j.last,
      me: ME,
      table: Object.fromEntries(STATUSES.map((s) => [s, hostOf(s)])),
      closedStatuses: [],
      reopenFromJira: true,
      hostChangedAt: hostAt,
      jiraChangedAt: j.at,
    },
    targetStatus: (d) => jiraOf(d.status),
    unmatchedAssignee: { rule: 'unassign', warning: () => 'unmatched' },
    hidden: () => false,
    comments: null,
  };
}

/** Whether the outbound job would do anything about the status (it runs only when queued). */
const outboundQuiet = (data: PlannedData, hostAt: number, bases: Map<string, unknown>, j: Jira): boolean =>
  outboundStatus(data, hostAt, bases, [], j).kind === 'none';

describe('status: a Jira move that won, then a move back before inbound read it', () => {
  it("our create's walk cut off, a user's move wins, then the user moves back to Open: the record takes Open", () => {
    // Our create made I-1 (Jira's initial Open); the record wants Doing; the walk was cut off.
    const journal: JournalEntry[] = [
      { id: 'c', target: 'I-1', intent: { op: 'create', values: {} }, outcome: 'done', at: 1 },
    ];
    let data: PlannedData = { status: 'doing', assignee_email: null };
    const hostAt = 5;
    const bases = new Map<string, unknown>();
    // Alice moves it Open → Triaged (newer than the host's status change).
    let j: Jira = { status: 'Triaged', at: 10, last: { from: 'Open', to: 'Triaged', by: ALICE } };
    // The outbound retry: Jira's move wins; it stores where our side left the issue and the host's status.
    const out = outboundStatus(data, hostAt, bases, journal, j);
    expect(out.kind).toBe('jira_wins');
    for (const [k, v] of (out.kind === 'jira_wins' && out.bases) || []) bases.set(k, v);
    expect(Object.fromEntries(bases)).toEqual({ [STATUS_BASE]: 'Open', [HOST_STATUS_BASE]: 'doing' });
    journal.length = 0; // the job finished: its journal rows go
    // Alice moves it back to Open before any inbound run read Triaged.
    j = { status: 'Open', at: 20, last: { from: 'Triaged', to: 'Open', by: ALICE } };
    const plan = planInbound(inboundInput(data, hostAt, bases, journal, j));
    // Jira's move (newest, and the one that already won) reaches the record ...
    expect(plan.decisions.find((d) => d.key === 'status')).toMatchObject({ rule: 'jira_changed', action: 'to_host' });
    expect(plan.data.status).toBe('open');
    expect(plan.pushHost).toBe(false); // ... and nothing is written to Jira (no echo, no walk back)
    data = plan.data;
    for (const [k, v] of plan.bases) bases.set(k, v);
    expect(Object.fromEntries(bases)).toMatchObject({
      [STATUS_BASE]: 'Open',
      [HOST_STATUS_BASE]: 'open',
      [TARGET_STATUS_BASE]: 'Open',
    });
    // Settled: the next inbound run plans nothing, and an outbound job (a later host edit) walks nothing.
    const again = planInbound(inboundInput(data, hostAt, bases, journal, j));
    expect(again.changed).toBe(false);
    expect(again.pushHost).toBe(false);
    expect(again.conflicts).toEqual([]);
    expect(outboundQuiet(data, hostAt, bases, j)).toBe(true);
  });

  it('an agreed status, a newer user move that won, then the user moves back: the host change is pushed again', () => {
    // Agreed Open ↔ open; the host changes to doing (t 5); Alice moves Open → Triaged (t 10).
    const data: PlannedData = { status: 'doing', assignee_email: null };
    const hostAt = 5;
    const bases = new Map<string, unknown>([
      [STATUS_BASE, 'Open'],
      [HOST_STATUS_BASE, 'open'],
      [TARGET_STATUS_BASE, 'Open'],
    ]);
    let j: Jira = { status: 'Triaged', at: 10, last: { from: 'Open', to: 'Triaged', by: ALICE } };
    const out = outboundStatus(data, hostAt, bases, [], j);
    expect(out.kind).toBe('jira_wins');
    expect(out.kind === 'jira_wins' && out.bases).toBeUndefined();
    // Alice moves it back to the agreed Open before any inbound run read Triaged: Jira's status is
    // as agreed, the host's change is the one change; the outbound job must run to push it.
    j = { status: 'Open', at: 20, last: { from: 'Triaged', to: 'Open', by: ALICE } };
    const plan = planInbound(inboundInput(data, hostAt, bases, [], j));
    expect(plan.data.status).toBe('doing');
    expect(plan.pushHost).toBe(true);
    // That job walks the issue to Doing (Jira's status as agreed: no newer Jira change to keep).
    expect(outboundStatus(data, hostAt, bases, [], j)).toMatchObject({ kind: 'walk', from: 'Open', to: 'Doing' });
  });
  it('a record the mapping keeps closed against that move says so once, not on every later run', () => {
    const journal: JournalEntry[] = [
      { id: 'c', target: 'I-1', intent: { op: 'create', values: {} }, outcome: 'done', at: 1 },
    ];
    const data: PlannedData = { status: 'done', assignee_email: null };
    const bases = new Map<string, unknown>();
    const j: Jira = { status: 'Triaged', at: 10, last: { from: 'Open', to: 'Triaged', by: ALICE } };
    const out = outboundStatus(data, 5, bases, journal, j);
    for (const [k, v] of (out.kind === 'jira_wins' && out.bases) || []) bases.set(k, v);
    const closed = (): InboundPlanInput<PlannedData> => {
      const input = inboundInput(data, 5, bases, [], j);
      return { ...input, status: { ...input.status, closedStatuses: ['done'], reopenFromJira: false } };
    };
    const first = planInbound(closed());
    expect(first.decisions.find((d) => d.key === 'status')).toMatchObject({ rule: 'locked' });
    expect(first.warnings).toHaveLength(1);
    for (const [k, v] of first.bases) bases.set(k, v);
    const again = planInbound(closed());
    expect(again.decisions.find((d) => d.key === 'status')).toMatchObject({ rule: 'unchanged' });
    expect(again.warnings).toEqual([]);
    expect(again.changed).toBe(false);
  });
});
