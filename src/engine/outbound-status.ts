/**
 * Outbound status: executes the status plan (planStatus, src/core/plan-outbound.ts) — nothing to
 * do, Jira's newer status wins, a rework task instead of a reopen, or a walk of transitions to the
 * status the record maps to, each hop journaled before it is sent.
 */
import { pendingRework, type JournalEntry } from '../core/journal.js';
import { HOST_STATUS_BASE, planStatus, type StatusPlanInput } from '../core/plan-outbound.js';
import { reworkDecision } from '../core/rework.js';
import type { WorkflowGraph } from '../core/workflow.js';
import { desiredStatus, resolutionFor } from './desired.js';
import { failpoint } from './failpoint.js';
import { jiraChangeTime } from './inbound.js';
import { journalIntent, journalOutcome } from './journal.js';
import type { OutboundContext, SyncOutcome } from './outbound-context.js';
import type { OutboundRework } from './outbound-rework.js';
import { walkToStatus, type CarriedEdit } from './status-path.js';
import type { JiraIssueState, JiraPort, OutboundMapping, RecordData } from './types.js';

/** Jira's status as both sides last agreed (a Jira status name). */
export const STATUS_BASE = 'status';

export interface StatusOptions {
  force: boolean;
  /** A manual re-sync (the host's status wins; else a forced check still weighs Jira's moves). */
  resync?: boolean;
  recordVersion: number;
  recordId: string;
  knownKey: string | null;
  /** The issue as just read (saves a call), or null to read it here. */
  state?: JiraIssueState | null;
  /** When the host last changed the record's status (conflict clock). */
  hostStatusAt?: number;
  /** A field edit the walk may carry on its last transition (else it is sent on its own). */
  carry?: CarriedEdit | undefined;
  /** The record's journal rows left by earlier attempts (hops of theirs are ours). */
  journal?: readonly JournalEntry[];
  jobId?: number | null;
}

/** The part's functions: each declared once, on its implementation below. */
export type OutboundStatus = ReturnType<typeof createOutboundStatus>;

export function createOutboundStatus(ctx: OutboundContext, rework: OutboundRework) {
  const { deps, store, now, workflows } = ctx;

  /**
   * Brings the issue's status where the record's maps to; true when Jira's newer status won (its
   * inbound job brings it to the record). Agreed bases go in newBases, what was done in outcome.
   */
  async function applyStatus(
    jira: JiraPort,
    issueKey: string,
    data: RecordData,
    mapping: OutboundMapping,
    bases: Map<string, unknown>,
    newBases: Map<string, unknown>,
    outcome: SyncOutcome,
    opts: StatusOptions,
  ): Promise<boolean> {
    const journal = opts.journal ?? [];
    const want = desiredStatus(data, mapping);
    const input: StatusPlanInput = {
      want,
      hostStatus: data.status,
      bases,
      force: opts.force,
      journal,
      hostStatusAt: opts.hostStatusAt ?? 0,
      knownKey: opts.knownKey,
      reopen: mapping.reopen.mode,
      recordVersion: opts.recordVersion,
      resolution: resolutionFor(mapping, data.status),
    };
    // The planner decides (src/core/plan-outbound.ts); this executes. First without the issue:
    // nothing to do, or read it (the job's read with its changelog when there was one).
    let plan = planStatus(input);
    let issue: { status: { name: string; category?: string | undefined } } | undefined;
    let graph: WorkflowGraph | undefined;
    if (plan.kind === 'read') {
      const read = opts.state ?? (await jira.getIssue(issueKey));
      const key = `${mapping.connectionId}/${read.projectKey ?? mapping.projectKey}/${read.issueType ?? '?'}`;
      graph = workflows.get(key);
      if (!graph) workflows.set(key, (graph = new Map()));
      issue = read;
      plan = planStatus({
        ...input,
        graph,
        // Whose a status change is (journaled hops count only when our account made them): our
        // account, cached per connection — asked only when there is a journal to match against.
        hostWins: opts.resync === true,
        me: journal.length && opts.state?.lastStatusChange?.by ? await deps.jira(mapping.connectionId).whoami() : null,
        issue: {
          key: read.key,
          status: read.status,
          lastStatusChange: opts.state?.lastStatusChange,
          statusChangedAt: opts.state ? jiraChangeTime(opts.state, 'status', mapping) : 0,
          // A Jira-side move wins only over a read made before this job wrote anything.
          conflictCheck: !!opts.state,
        },
      });
    }
    if (plan.kind === 'read') throw new Error('planStatus asked for a read it was given');
    if (plan.kind === 'jira_wins') {
      // Jira's newer status wins (the inbound job brings it to the record); nothing is pushed.
      for (const [k, v] of plan.bases ?? []) newBases.set(k, v);
      outcome.extra = {
        ...outcome.extra,
        conflicts: [...((outcome.extra?.conflicts as unknown[] | undefined) ?? []), plan.conflict],
      };
      return true;
    }
    for (const [k, v] of plan.bases) newBases.set(k, v);
    if (plan.kind === 'none' && plan.warning) outcome.warnings.push(plan.warning);
    if (!issue || want.status === null) return false;
    if (plan.moved) outcome.extra = { ...outcome.extra, issue_key: plan.moved.to, moved_from: plan.moved.from };
    // A rework task an interrupted attempt set out to make, while the record is no longer
    // reopening: adopted when Jira has it (found by its token), else known never made.
    const pending = pendingRework(journal);
    const reworking = issue.status.category === 'done' && !want.closing && mapping.reopen.mode === 'rework';
    if (pending && !reworking) await rework.settlePendingRework(jira, opts.recordId, issueKey, mapping, pending);
    // The record fixed again: its open rework tasks move to the close status with it (issue 19).
    if (want.closing) await rework.closeReworkTasks(jira, opts.recordId, mapping, want.status, data.status, outcome);
    // Rework (issue 19): a reopened record gets a new linked rework task; the issue stays done.
    if (plan.rule === 'rework') {
      const tasks = await store.db
        .selectFrom('rework_links')
        .select(['token', 'state'])
        .where('record_id', '=', opts.recordId)
        .execute();
      const token = pending?.token ?? `rework-${opts.recordId}-${opts.recordVersion}`;
      const hostBase = bases.get(HOST_STATUS_BASE);
      const decision = pending
        ? 'create'
        : reworkDecision({
            mode: mapping.reopen.mode,
            issueDone: true,
            closing: false,
            wasClosing: typeof hostBase === 'string' ? mapping.closedStatuses.includes(hostBase) : undefined,
            openTasks: tasks.filter((t) => t.state === 'open').length,
            madeForVersion: tasks.some((t) => t.token === token),
          });
      if (decision === 'create') {
        const ref = await rework.createRework(
          jira,
          issueKey,
          data,
          mapping,
          opts.recordId,
          opts.jobId ?? null,
          token,
          pending,
        );
        outcome.extra = { ...outcome.extra, rework: ref.key };
        outcome.fields.push('rework');
      }
      await rework.linkReworkTasks(jira, opts.recordId, issueKey, mapping);
      return false;
    }
    if (plan.kind !== 'walk') return false; // in place, or the mapping never reopens
    let hopIntent: string | undefined;
    const result = await walkToStatus(jira, issueKey, issue.status, plan.to, {
      resolution: input.resolution,
      targetCategory: plan.closing ? 'done' : undefined,
      graph,
      planned: plan.hops,
      carry: opts.carry,
      hops: {
        // Each hop is journaled before it is sent: after a crash the next job knows it as its own.
        async before(from, t) {
          hopIntent = await journalIntent(store.db, {
            recordId: opts.recordId,
            jobId: opts.jobId ?? null,
            target: issueKey,
            intent: { op: 'transition', from, to: t.to.name, transition: t.id },
            at: now(),
          });
        },
        async after(_from, _t, ok) {
          if (hopIntent) await journalOutcome(store.db, hopIntent, ok ? 'done' : 'failed', now());
          hopIntent = undefined;
          if (ok) failpoint('after-jira-transition');
        },
      },
    });
    newBases.set(STATUS_BASE, plan.to);
    outcome.fields.push('status');
    outcome.path = result.path;
    return false;
  }

  return { applyStatus };
}
