/**
 * The inbound planner (issue 16), pure: what one inbound sync of a linked issue does to its record
 * and why. No I/O, no clock: the issue and its changelog as read, the record, the agreed bases, the
 * mapping in force (as the values and tables it decides with), the journal's intents and the times
 * of both sides' changes all come in as data; how a Jira value is written into the record's data
 * comes in as a pure function of the field (the engine's value tables, src/engine/inbound-mapping.ts).
 *
 * The plan: the record's data after Jira's side, per field the decision and the rule behind it
 * (jira_changed, jira_newer, host_changed, host_newer, locked, direction_off, ours, unchanged,
 * agree, templated), the conflicts with their losers, the bases to store, the comments to add,
 * edit and delete, whether the host's side must be pushed, and — from what the executor then
 * stored — the host events to emit (inboundEvents). The executor (src/engine/inbound.ts) reads,
 * plans, then writes in one transaction; it decides nothing itself.
 *
 * Every decision goes through the three-way rule (./merge.ts), so an echo of our own write, a
 * duplicated, late or reordered delivery and a sweep re-reading all plan "nothing": they read the
 * same current state. A value Jira holds that a journaled write of ours sent is ours whatever its
 * time (./journal.ts), and so is a status our own walk or create produced.
 */
import {
  initialStatusOfOurCreate,
  madeByOurCreate,
  ourBase,
  ourStatusChange,
  type Actor,
  type JournalEntry,
  type StatusChange,
} from './journal.js';
import {
  decideField,
  hostStatusFor,
  reopenAllowed,
  sameValue,
  type Conflict,
  type Direction,
  type JiraStatusRef,
  type Side,
} from './merge.js';

/** The base names of the status and the standing assignee warning (field_bases.field). */
export const STATUS_BASE = 'status';
export const HOST_STATUS_BASE = 'host:status';
export const TARGET_STATUS_BASE = 'target:status';
export const ASSIGNEE_WARNING_BASE = 'warning:assignee';

/** Why a field (or the status) was planned the way it was. */
export type InboundRule =
  /** Jira alone changed it: Jira's value comes to the record. */
  | 'jira_changed'
  /** Both sides changed it; Jira's change is newer (or a tie): Jira's value comes to the record. */
  | 'jira_newer'
  /** The host alone changed it: nothing comes back; the outbound job pushes the host's value. */
  | 'host_changed'
  /** Both sides changed it; the host's change is newer: the outbound job pushes it. */
  | 'host_newer'
  /** Both sides changed it; a lock (or a one-way direction) names the winner. */
  | 'locked'
  /** The field's direction lets nothing flow from Jira (or not the side that changed). */
  | 'direction_off'
  /** What Jira holds is our own write (an echo, a journaled write or walk a crash cut off). */
  | 'ours'
  /** Neither side changed it since the last agreement. */
  | 'unchanged'
  /** Both sides hold the same new value: agreed, nothing moves. */
  | 'agree'
  /** Rendered from the mapping's template: Jira's text cannot go back into the record's fields. */
  | 'templated'
  /** The record has no such field (nothing to compare against). */
  | 'not_mapped';

/** The record's data as far as the planner needs to know it (the engine's RecordData). */
export interface PlannedData {
  status: string;
  assignee_email: string | null;
}

/** Writes Jira's value into the record's data (a copy), or says why the record cannot hold it. */
export type ApplyValue<D> = (data: D, value: unknown) => { ok: true; data: D } | { ok: false; warning: string };

export interface InboundFieldInput<D> {
  key: string;
  /** Jira's value as read, normalised like the bases (a `{hidden}` person: Jira hides the email). */
  jira: unknown;
  /** The record's value as bases store it; undefined: the record has no such field. */
  host: unknown;
  /** The agreed base (undefined: never agreed). */
  base: unknown;
  /** Values journaled writes of ours sent for this field (an interrupted job may have written one). */
  journaled: readonly unknown[];
  /** The field's direction (undefined: both). */
  direction?: Direction | undefined;
  /** May Jira's value of this field flow to the record (the field's and the mapping's direction)? */
  flowsIn: boolean;
  lock?: Side | undefined;
  hostChangedAt: number;
  jiraChangedAt: number;
  /** A text: Jira holds the round trip of what was written; `same` tells whether it holds a value. */
  text?: boolean | undefined;
  same?: ((jira: unknown, candidate: unknown) => boolean) | undefined;
  /** Priority: whether a (base) priority maps back to the record's severity (then no host change). */
  hostEquivalent?: ((value: unknown) => boolean) | undefined;
  /** Rendered from the mapping's template. */
  templated?: boolean | undefined;
  /** Jira's last change of the field was made by jira-bridge's own account (an echo of our write). */
  byUs?: boolean | undefined;
  apply: ApplyValue<D>;
}

export interface InboundStatusInput {
  /** Whether Jira's status flows to the record. */
  flowsIn: boolean;
  /** Jira's status as read, and the newest status change of its changelog (with its author). */
  jira: JiraStatusRef;
  lastChange?: StatusChange | undefined;
  /** jira-bridge's own account on the connection: a status change is ours only when it made it. */
  me?: Actor | null | undefined;
  /** The inbound status table (status.in) and its default. */
  table: Record<string, string>;
  fallback?: string | undefined;
  closedStatuses: readonly string[];
  reopenFromJira: boolean;
  hostChangedAt: number;
  jiraChangedAt: number;
}

export interface InboundPlanInput<D extends PlannedData> {
  issue: { id: string; key: string; projectKey: string };
  /** The issue key the link knows (a different key: the issue moved). */
  linkedKey: string | null;
  data: D;
  bases: ReadonlyMap<string, unknown>;
  journal: readonly JournalEntry[];
  fields: ReadonlyArray<InboundFieldInput<D>>;
  status: InboundStatusInput;
  /** The Jira status the record's data asks for (desiredStatus), null when none is pushed. */
  targetStatus: (data: D) => string | null;
  /** Jira's assignee has no email to match: the mapping's rule and the warning the record carries. */
  unmatchedAssignee: { rule: 'unassign' | 'keep'; warning: (kept: string | null) => string };
  /** Whether a value is a person whose email Jira hides. */
  hidden: (value: unknown) => boolean;
  /** Comments, when they flow from Jira (null: they stay in Jira). */
  comments: CommentInput | null;
}

export interface FieldPlan {
  key: string;
  rule: InboundRule;
  /** What happens: the record takes Jira's value, the host's value is pushed, or nothing moves. */
  action: 'to_host' | 'to_jira' | 'none';
  /** Jira's value the record takes (to_host). */
  value?: unknown;
  /** The base this decision stores. */
  base?: { value: unknown } | undefined;
  warning?: string | undefined;
}

export interface InboundPlan<D extends PlannedData> {
  /** The record's data with Jira's side applied. */
  data: D;
  /** Whether the data differs from what was read (the record is written, version + 1). */
  changed: boolean;
  /** The record fields that take Jira's value, in order. */
  fields: string[];
  /** Each field's decision with its rule (status last, as 'status'). */
  decisions: FieldPlan[];
  conflicts: Array<{ field: string } & Conflict>;
  warnings: string[];
  /** The bases to store. */
  bases: Map<string, unknown>;
  /** The host changed too (and won, or changed alone): its outbound job must run. */
  pushHost: boolean;
  /** The standing assignee warning: a message, null once it clears, undefined when not looked at. */
  assigneeWarning?: string | null | undefined;
  /** The standing warning is new or changed (the host hears of it). */
  raised: boolean;
  /** The issue moved (its key changed). */
  moved: boolean;
  comments: CommentPlan | null;
}

/** The rule behind a three-way decision. */
function ruleOf(d: ReturnType<typeof decideField>): InboundRule {
  if (d.action === 'none') return 'unchanged';
  if (d.action === 'agree') return 'agree';
  if (d.action === 'blocked') return 'direction_off';
  if (d.conflict) return d.conflict.rule === 'lock' ? 'locked' : d.action === 'to_host' ? 'jira_newer' : 'host_newer';
  return d.action === 'to_host' ? 'jira_changed' : 'host_changed';
}

/** One field's decision, with what it does to the record's data and the plan. */
export interface FieldStep<D> extends FieldPlan {
  /** The record's data after the field (absent: unchanged). */
  data?: D;
  /** The record field that took Jira's value. */
  changedField?: string;
  conflict?: { field: string } & Conflict;
  /** The host's value is to be pushed (its outbound job runs). */
  push?: boolean;
  /** The standing assignee warning: a message, or null when it clears. */
  assigneeWarning?: string | null;
}

/** One field through the three-way rule, with the journal's and the texts' view of Jira's value. */
export function planInboundField<D extends PlannedData>(
  f: InboundFieldInput<D>,
  data: D,
  ctx: Pick<InboundPlanInput<D>, 'unmatchedAssignee' | 'hidden'>,
): FieldStep<D> {
  const key = f.key;
  if (!f.flowsIn && f.lock !== 'jira') return { key, rule: 'direction_off', action: 'none' };
  const clears = key === 'assignee' && !ctx.hidden(f.jira) ? { assigneeWarning: null } : {};
  const same = f.same ?? sameValue;
  // A value an interrupted outbound job of ours sent (journaled) is ours, whatever its time.
  const base = ourBase(f.base, f.jira, f.journaled, same);
  const ours = base !== f.base;
  const hostVal = f.host;
  if (hostVal === undefined && key !== 'priority') return { key, rule: 'not_mapped', action: 'none', ...clears };
  // Texts: Jira holds the round trip of what was written; see it as what was written.
  let jiraVal = f.jira;
  if (f.text) {
    if (base !== undefined && same(f.jira, base)) jiraVal = base;
    else if (same(f.jira, hostVal)) jiraVal = hostVal;
  }
  // Priority: the host's side is the severity; it is unchanged while the base maps to it.
  let hostSide = hostVal;
  if (key === 'priority') {
    const unchanged = base !== undefined && f.hostEquivalent !== undefined && f.hostEquivalent(base);
    hostSide = unchanged || hostVal === undefined ? base : hostVal;
  }
  const d = decideField({
    base,
    host: hostSide,
    jira: jiraVal,
    direction: f.flowsIn ? (f.direction ?? 'both') : 'to_jira',
    lock: f.lock,
    hostChangedAt: f.hostChangedAt,
    jiraChangedAt: f.jiraChangedAt,
  });
  // Jira holds our own write (journaled, or an echo whose changelog entry is ours): 'ours'.
  const echo = d.action === 'none' || (d.action === 'to_jira' && !d.conflict);
  const rule: InboundRule = echo && (ours || (f.byUs === true && d.action === 'none')) ? 'ours' : ruleOf(d);
  if (d.action === 'none' || d.action === 'blocked') return { key, rule, action: 'none', ...clears };
  if (d.action === 'agree') {
    const keep = base !== undefined && sameValue(base, d.value);
    return { key, rule, action: 'none', ...(keep ? {} : { base: { value: d.value } }), ...clears };
  }
  const conflict = d.conflict ? { conflict: { field: key, ...d.conflict } } : {};
  if (d.action === 'to_jira') {
    // The host won a conflict: agree on what Jira holds now, so the outbound job writes the
    // host's value against it in full (labels go as add/remove against the base: against the
    // older base, a label added in Jira would survive the host's newer set).
    return {
      key,
      rule,
      action: 'to_jira',
      push: true,
      ...(d.conflict ? { base: { value: jiraVal } } : {}),
      ...conflict,
      ...clears,
    };
  }
  if (f.templated) {
    // Rendered from the mapping's template: the record's fields are its inputs, and Jira's text
    // cannot go back into them. The base stays the rendered text, so Jira's edit stays in Jira
    // until a change of the record renders a different text (then the newer change wins).
    return {
      key,
      rule: 'templated',
      action: 'none',
      warning: `${key} was changed in Jira; it is rendered from the mapping's template (templates.${key}), so the record keeps its fields`,
      ...conflict,
      ...clears,
    };
  }
  if (key === 'assignee' && ctx.hidden(d.value)) {
    // Jira's assignee has no email the record can match: the mapping's rule decides, and the
    // record says so until it can match again. Unassigned, the agreed value is "nobody" (so
    // the host's null is no change to push back over Jira's assignee).
    const { rule: policy, warning } = ctx.unmatchedAssignee;
    let next = data;
    let changedField: string | undefined;
    let fieldBase: FieldPlan['base'];
    if (policy === 'unassign') {
      if (data.assignee_email !== null) {
        next = { ...data, assignee_email: null };
        changedField = 'assignee';
      }
      fieldBase = { value: null };
    }
    const w = warning(next.assignee_email);
    return {
      key,
      rule,
      action: changedField ? 'to_host' : 'none',
      value: d.value,
      base: fieldBase,
      warning: w,
      assigneeWarning: w,
      data: next,
      ...(changedField ? { changedField } : {}),
      ...conflict,
    };
  }
  const applied = f.apply(data, d.value);
  if (!applied.ok) {
    return {
      key,
      rule,
      action: 'none',
      warning: applied.warning,
      ...(ctx.hidden(d.value) ? {} : { base: { value: d.value } }),
      ...conflict,
      ...clears,
    };
  }
  return {
    key,
    rule,
    action: 'to_host',
    value: d.value,
    base: { value: d.value },
    data: applied.data,
    changedField: key,
    ...conflict,
    ...clears,
  };
}

/** The status: Jira's status (by id, name or category) → the host status, under the reopen policy. */
export function planInboundStatus<D extends PlannedData>(
  s: InboundStatusInput,
  data: D,
  bases: ReadonlyMap<string, unknown>,
  journal: readonly JournalEntry[],
  issueId: string,
  targetStatus: (data: D) => string | null,
): {
  rule: InboundRule;
  data: D;
  changed: boolean;
  bases: Array<[string, unknown]>;
  conflict?: { field: string } & Conflict;
  warning?: string;
  push: boolean;
} {
  const none = (rule: InboundRule) => ({ rule, data, changed: false, bases: [], push: false });
  if (!s.flowsIn) return none('direction_off');
  const base = bases.get(STATUS_BASE) as string | undefined;
  const hostBase = bases.get(HOST_STATUS_BASE) as string | null | undefined;
  const lc = (x: string): string => x.toLowerCase();
  if (base !== undefined && lc(base) === lc(s.jira.name)) {
    // Jira's status is the agreed one. The record may still want another, with no outbound job
    // queued: an outbound job let a Jira user's newer move stand (jira_wins) and the user moved
    // the issue back before any inbound run read that move.
    const want = targetStatus(data);
    if (want === null || lc(want) === lc(s.jira.name)) return none('unchanged');
    // The host changed its status since agreed: Jira's is as agreed (no change of Jira's to
    // keep), so the host's change is the one change and its outbound job runs again to push it.
    if (hostBase !== undefined && hostBase !== data.status) return { ...none('host_changed'), push: true };
    // A status never agreed (our create's walk cut off): the job let a Jira user's move stand and
    // stored where our side left the issue and the host status it decided against, with no
    // target (planStatus). The move back is a Jira user's move newer still than that host status:
    // it comes to the record as the move would have (below), and nothing is written to Jira.
    // (When the record cannot take it — no host status, or a reopen the mapping forbids — the
    // first run that read the move said so; later runs stay quiet, as for an agreed status.)
    if (hostBase === undefined || bases.has(TARGET_STATUS_BASE)) return none('unchanged');
    const back = hostStatusFor(s.jira, s.table, s.fallback);
    if (back === null || !reopenAllowed(data.status, back, s.closedStatuses, s.reopenFromJira))
      return none('unchanged');
  }
  // The last move is a hop of our own interrupted walk (journaled, made by our account): no Jira
  // user's change; the outbound job (queued again after the crash) finishes the walk.
  if (ourStatusChange(s.lastChange, journal, s.me)) return none('ours');
  // Jira's initial status, set by our own journaled create, with no status change since: the
  // status walk of that create was cut off (a crash after the link was saved). No Jira user's
  // change either: the record's status stands and the outbound job walks the issue to it.
  if (initialStatusOfOurCreate(issueId, s.lastChange, journal)) return none('ours');
  const next = hostStatusFor(s.jira, s.table, s.fallback);
  const out: Array<[string, unknown]> = [[STATUS_BASE, s.jira.name]];
  if (next === null) {
    return {
      ...none('not_mapped'),
      bases: out,
      warning: `Jira status "${s.jira.name}" has no host status in the mapping (status.in)`,
    };
  }
  // Never agreed because our create's walk was cut off (a crash after the link): the record's
  // status is the host's change our walk set out to make; against a Jira user's move, the newer wins.
  const hostChanged = hostBase !== undefined ? hostBase !== data.status : madeByOurCreate(issueId, journal);
  let conflict: ({ field: string } & Conflict) | undefined;
  if (hostChanged && data.status !== next) {
    const hostWins = s.hostChangedAt > s.jiraChangedAt;
    conflict = {
      field: 'status',
      winner: hostWins ? 'host' : 'jira',
      rule: 'newest',
      lost: hostWins ? s.jira.name : data.status,
    };
    if (hostWins) {
      // The host's status is pushed by its outbound job. Forget the host status last pushed, so
      // that job does the status work even if the host returns to that value in the meantime
      // (it would otherwise read "unchanged since pushed" while Jira has moved away).
      return {
        rule: 'host_newer',
        data,
        changed: false,
        bases: [...out, [HOST_STATUS_BASE, null]],
        conflict,
        push: true,
      };
    }
  }
  if (!reopenAllowed(data.status, next, s.closedStatuses, s.reopenFromJira)) {
    return {
      rule: 'locked',
      data,
      changed: false,
      bases: out,
      ...(conflict ? { conflict } : {}),
      warning: `Jira moved the issue to "${s.jira.name}" but the mapping forbids reopening a closed record from Jira; the record stays "${data.status}"`,
      push: false,
    };
  }
  const changed = data.status !== next;
  const after = changed ? { ...data, status: next } : data;
  out.push([HOST_STATUS_BASE, next]);
  const target = targetStatus(after);
  if (target !== null) out.push([TARGET_STATUS_BASE, target]);
  return {
    rule: conflict ? 'jira_newer' : changed ? 'jira_changed' : 'agree',
    data: after,
    changed,
    bases: out,
    ...(conflict ? { conflict } : {}),
    push: false,
  };
}

// ------------------------------------------------------------------------------------------
// Comments
// ------------------------------------------------------------------------------------------

export interface JiraCommentIn {
  id: string;
  /** Written by jira-bridge's own account. */
  ours: boolean;
  /** The body as the record keeps it (normalised Markdown). */
  body: string;
  created: number;
  updated: number;
  internal: boolean;
}

export interface CommentLinkIn {
  id: string;
  jiraCommentId: string | null;
  origin: string;
  /** The body last agreed on. */
  baseBody: string | null;
  deleted: boolean;
}

export interface CommentInput {
  jira: readonly JiraCommentIn[];
  links: readonly CommentLinkIn[];
}

export interface CommentPlan {
  /** Jira comments new to the record (a Jira user's, never ours). */
  add: JiraCommentIn[];
  /** Jira comments edited in Jira since agreed: the record's copy takes the new body. */
  update: Array<{ linkId: string; comment: JiraCommentIn }>;
  /** Linked comments deleted in Jira: deleted on the record too. */
  delete: string[];
}

/**
 * Comments created, edited and deleted in Jira appear on the record (by Jira comment id). Our own
 * comments are linked by the job that posts them: an unlinked one of ours is a post still in
 * flight (the outbound job recognises it), never a new Jira comment. A comment already linked is
 * never added again (each comment once, however often the issue is read).
 */
export function planComments(c: CommentInput): CommentPlan {
  const byJiraId = new Map(c.links.filter((l) => l.jiraCommentId).map((l) => [l.jiraCommentId!, l]));
  const inJira = new Set(c.jira.map((x) => x.id));
  const plan: CommentPlan = { add: [], update: [], delete: [] };
  const seen = new Set<string>();
  for (const x of c.jira) {
    if (seen.has(x.id)) continue;
    seen.add(x.id);
    const known = byJiraId.get(x.id);
    if (!known) {
      if (!x.ours) plan.add.push(x);
      continue;
    }
    if (known.deleted || known.origin !== 'jira') continue;
    if (known.baseBody !== x.body) plan.update.push({ linkId: known.id, comment: x });
  }
  for (const l of c.links) {
    if (!l.jiraCommentId || l.deleted || inJira.has(l.jiraCommentId)) continue;
    plan.delete.push(l.id);
  }
  return plan;
}

// ------------------------------------------------------------------------------------------
// The whole plan
// ------------------------------------------------------------------------------------------

/** Plans one inbound sync of a linked issue (see the file's header). */
export function planInbound<D extends PlannedData>(input: InboundPlanInput<D>): InboundPlan<D> {
  let data = input.data;
  const plan: InboundPlan<D> = {
    data,
    changed: false,
    fields: [],
    decisions: [],
    conflicts: [],
    warnings: [],
    bases: new Map(),
    pushHost: false,
    raised: false,
    moved: input.issue.key !== input.linkedKey,
    comments: null,
  };
  for (const f of input.fields) {
    const d = planInboundField(f, data, input);
    if (d.assigneeWarning !== undefined) plan.assigneeWarning = d.assigneeWarning;
    if (d.conflict) plan.conflicts.push(d.conflict);
    if (d.warning) plan.warnings.push(d.warning);
    if (d.base) plan.bases.set(f.key, d.base.value);
    if (d.push) plan.pushHost = true;
    if (d.data) data = d.data;
    if (d.changedField) plan.fields.push(d.changedField);
    plan.decisions.push({
      key: d.key,
      rule: d.rule,
      action: d.action,
      ...(d.value !== undefined ? { value: d.value } : {}),
      ...(d.base ? { base: d.base } : {}),
      ...(d.warning ? { warning: d.warning } : {}),
    });
  }
  const s = planInboundStatus(input.status, data, input.bases, input.journal, input.issue.id, input.targetStatus);
  for (const [k, v] of s.bases) plan.bases.set(k, v);
  if (s.conflict) plan.conflicts.push(s.conflict);
  if (s.warning) plan.warnings.push(s.warning);
  if (s.push) plan.pushHost = true;
  if (s.changed) plan.fields.push('status');
  data = s.data;
  plan.decisions.push({
    key: 'status',
    rule: s.rule,
    action: s.changed ? 'to_host' : s.push ? 'to_jira' : 'none',
    ...(s.changed ? { value: input.status.jira.name } : {}),
  });
  // The standing warning about an unmatched assignee: raised (new or changed), or cleared.
  const standing = input.bases.get(ASSIGNEE_WARNING_BASE) as string | null | undefined;
  const w = plan.assigneeWarning;
  plan.raised = typeof w === 'string' && w !== standing;
  if (plan.raised || (w === null && typeof standing === 'string')) plan.bases.set(ASSIGNEE_WARNING_BASE, w ?? null);
  plan.data = data;
  plan.changed = data !== input.data && !sameValue(data, input.data);
  plan.comments = input.comments ? planComments(input.comments) : null;
  return plan;
}

/**
 * An issue deleted in Jira (confirmed by a read, never by a delivery alone): the link goes; under
 * `resolve` the record moves to the mapping's first closed status unless it is there already.
 */
export function planIssueDeleted(p: {
  onJiraDelete: 'unlink' | 'resolve';
  closeTo: string | undefined;
  status: string;
}): { resolveTo: string | null } {
  return { resolveTo: p.onJiraDelete === 'resolve' && p.closeTo && p.status !== p.closeTo ? p.closeTo : null };
}

// ------------------------------------------------------------------------------------------
// What the host hears
// ------------------------------------------------------------------------------------------

export type InboundEvent = 'record.updated' | 'record.comments' | 'record.attachments' | 'record.moved';

/**
 * The verdict, the logged action and the host events of a run, from what it stored: the record's
 * data, comments and attachments that changed, a move, conflicts, warnings and a raised standing
 * warning. `warningOnly`: a raised warning with nothing else changed still reaches the host.
 */
export function inboundEvents(r: {
  changed: boolean;
  comments: number;
  attachments: boolean;
  moved: boolean;
  conflicts: number;
  warnings: number;
  raised: boolean;
}): {
  verdict: 'applied' | 'no_change';
  action: 'updated' | 'moved' | 'comments' | 'attachments' | 'conflict' | 'noop';
  /** Whether the run is logged (an applied run always; a no-change one with warnings as 'noop'). */
  log: boolean;
  events: InboundEvent[];
  warningOnly: boolean;
} {
  const applied = r.changed || r.comments > 0 || r.attachments || r.moved || r.conflicts > 0;
  const events: InboundEvent[] = [];
  if (applied) {
    if (r.changed) events.push('record.updated');
    if (r.comments > 0) events.push('record.comments');
    if (r.attachments) events.push('record.attachments');
    if (r.moved) events.push('record.moved');
  }
  return {
    verdict: applied ? 'applied' : 'no_change',
    action: !applied
      ? 'noop'
      : r.changed
        ? 'updated'
        : r.moved
          ? 'moved'
          : r.comments > 0
            ? 'comments'
            : r.attachments
              ? 'attachments'
              : 'conflict',
    log: applied || r.warnings > 0,
    events,
    warningOnly: r.raised && !r.changed,
  };
}
