/**
 * The outbound planner (issue 16), pure: what the next outbound sync of one record does to its
 * Jira issue and why. No I/O, no clock: the record's wanted values, the agreed bases, the journal,
 * the issue as read (or not read), what is known of the workflow and the times all come in as data.
 *
 * Three decisions, each used by the executor (src/engine/outbound.ts) and by the plan preview
 * (`GET /api/v1/records/{scope}/{hostId}/plan`, src/engine/plan.ts), so both say the same:
 *  - decideOutboundField: one field — push the host's value, leave it, or let Jira's newer value
 *    win (the inbound job brings it to the record) — with the rule that decided and the base it
 *    establishes;
 *  - planStatus: the status — nothing, Jira's newer status wins, a rework task, or a walk (its hops
 *    when the workflow is known, each with its screen fields);
 *  - planOutbound: the whole ordered plan (create | read | edit | transition hops | rework | host
 *    link | comments | attachments) with what each step expects, the bases it establishes, the
 *    rule behind it and the Jira calls it costs.
 */
import { decideField, type Side } from './merge.js';
import {
  movedSinceOurCreate,
  ourBase,
  ourStatusChange,
  type Actor,
  type JournalEntry,
  type StatusChange,
} from './journal.js';
import { screenTakes, shortestPath, type WorkflowEdge, type WorkflowGraph } from './workflow.js';

/** Canonical JSON as the engine compares values (object keys sorted; undefined stays undefined). */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as Record<string, unknown>).sort())
      out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** Why a step or a field was decided the way it was. */
export type PlanRule =
  /** The host's value is the agreed one: nothing to send. */
  | 'unchanged'
  /** A priority set in Jira maps back to the record's severity: not a host change. */
  | 'same_severity'
  /** Never agreed before: the host's value goes. */
  | 'first_push'
  /** The host changed the field since the last agreement (Jira not read, or unchanged there). */
  | 'host_changed'
  /** Both sides changed it; the host's change is newer. */
  | 'host_newer'
  /** Both sides changed it; Jira's change is newer: Jira's value stays and comes to the record. */
  | 'jira_newer'
  /** The field is locked to Jira's side. */
  | 'locked'
  /** Both sides changed it to the same value: agreed, nothing to send. */
  | 'agree'
  /** Jira holds a value a journaled write of ours sent (a crash cut its bookkeeping): ours. */
  | 'ours'
  /** A manual re-sync: the record's values are pushed as they are. */
  | 'resync'
  /** The mapping's direction does not push it. */
  | 'direction_off'
  /** Not linked yet: the issue is created. */
  | 'not_linked'
  /** The issue is already where the record wants it. */
  | 'in_place'
  /** The mapping never reopens issues from the host. */
  | 'never_reopen'
  /** A record back from done under `reopen: rework`: a rework task instead of a reopen. */
  | 'rework';

/** The value of a field Jira holds, as read. */
export interface JiraFieldValue {
  value: unknown;
  /** When Jira last changed it (from the changelog; else the issue's `updated`). */
  changedAt: number;
  /** Whether a Jira value holds a candidate value (texts: their round-tripped form); default: equal JSON. */
  same?: ((jira: unknown, candidate: unknown) => boolean) | undefined;
}

export interface OutboundFieldInput {
  key: string;
  /** The host's value, normalised as bases store it. */
  want: unknown;
  /** The agreed base (undefined: never agreed). */
  base: unknown;
  /** Values journaled writes sent for this field (an earlier attempt may have written one). */
  journaled: readonly unknown[];
  /** The base maps back to the host's value (a priority of the record's severity): no host change. */
  baseEquivalent?: boolean | undefined;
  hostChangedAt: number;
  lock?: Side | undefined;
  /** A manual re-sync: the host wins every field. */
  hostWins: boolean;
  /** Jira's value: undefined when the issue was not read, null when the read has no such field. */
  jira?: JiraFieldValue | null | undefined;
}

export interface OutboundFieldDecision {
  key: string;
  /** push: send the host's value; none: nothing to send; jira_wins: Jira's newer value stays. */
  action: 'push' | 'none' | 'jira_wins';
  rule: PlanRule;
  /** A base this decision establishes without a write (agreed, or our own earlier write). */
  base?: { value: unknown } | undefined;
  conflict?: { field: string; winner: 'jira'; rule: 'newest' | 'lock'; lost: unknown } | undefined;
}

/** Whether the field differs from what was agreed (before Jira is read): it needs deciding. */
export function fieldCandidate(f: Omit<OutboundFieldInput, 'jira'>): { candidate: boolean; rule: PlanRule } {
  if (unsettled(f)) return { candidate: true, rule: 'host_changed' };
  if (f.base !== undefined && same(f.base, f.want)) return { candidate: false, rule: 'unchanged' };
  if (f.baseEquivalent) return { candidate: false, rule: 'same_severity' };
  return { candidate: true, rule: f.base === undefined ? 'first_push' : 'host_changed' };
}

/** An earlier attempt journaled a value for the field that is not its base: check it against Jira. */
function unsettled(f: Pick<OutboundFieldInput, 'journaled' | 'base'>): boolean {
  return f.journaled.some((v) => !same(v, f.base));
}

/**
 * One field of an outbound sync: the three-way rule with the journal's view of our own writes.
 * Without Jira's value (not read) a changed field is pushed as far as the store knows.
 */
export function decideOutboundField(f: OutboundFieldInput): OutboundFieldDecision {
  const first = fieldCandidate(f);
  if (!first.candidate) return { key: f.key, action: 'none', rule: first.rule };
  const js = f.jira;
  const eqJ = js?.same ?? same;
  let base = f.base;
  let established: { value: unknown } | undefined;
  if (js && unsettled(f)) {
    // Jira holds a value an earlier attempt of ours sent: that write is ours, its value the base.
    const ours = ourBase(base, js.value, f.journaled, (a, b) => same(a, b) || eqJ(a, b));
    if (ours !== base) {
      base = ours;
      established = { value: ours };
    }
    if (base !== undefined && same(base, f.want))
      return { key: f.key, action: 'none', rule: established ? 'ours' : 'unchanged', base: established };
  }
  const pushRule = (jiraChanged: boolean): PlanRule =>
    f.hostWins ? 'resync' : jiraChanged ? 'host_newer' : base === undefined ? 'first_push' : 'host_changed';
  if (js && base !== undefined && !f.hostWins) {
    let jiraVal = js.value;
    if (js.same && js.same(js.value, base)) jiraVal = base;
    else if (js.same && js.same(js.value, f.want)) jiraVal = f.want;
    if (!same(jiraVal, base)) {
      // Jira changed this field too since the last agreement.
      const d = decideField({
        base,
        host: f.want,
        jira: jiraVal,
        direction: 'both',
        lock: f.lock,
        hostChangedAt: f.hostChangedAt,
        jiraChangedAt: js.changedAt,
      });
      if (d.action === 'agree') return { key: f.key, action: 'none', rule: 'agree', base: { value: f.want } };
      if (d.action === 'to_host' || d.action === 'blocked') {
        const rule = d.action === 'to_host' ? (d.conflict?.rule ?? 'newest') : 'lock';
        return {
          key: f.key,
          action: 'jira_wins',
          rule: rule === 'lock' ? 'locked' : 'jira_newer',
          base: established,
          conflict: { field: f.key, winner: 'jira', rule, lost: f.want },
        };
      }
      return { key: f.key, action: 'push', rule: pushRule(true), base: established };
    }
  }
  return { key: f.key, action: 'push', rule: pushRule(false), base: established };
}

/** Base keys of the status work (shared with the engine's field_bases). */
export const STATUS_BASE = 'status';
export const HOST_STATUS_BASE = 'host:status';
export const TARGET_STATUS_BASE = 'target:status';
export const REWORK_BASE = 'rework';

export type WantStatus = { status: string; closing: boolean } | { status: null; reason: string };

export interface StatusPlanInput {
  want: WantStatus;
  /** The record's host status. */
  hostStatus: string;
  /** The agreed bases (status, host:status, target:status, rework). */
  bases: ReadonlyMap<string, unknown>;
  /** Create or re-sync: the status is checked whatever the bases say. */
  force: boolean;
  /**
   * A manual re-sync: the host's status wins whatever Jira did (no newer-wins check). Default:
   * `force` (a create or an adopted issue passes false: a Jira user's move since our create is
   * then weighed against the host's change).
   */
  hostWins?: boolean | undefined;
  journal: readonly JournalEntry[];
  /** jira-bridge's own account on the connection: a status change is ours only when it made it. */
  me?: Actor | null | undefined;
  /** The issue as read (undefined: not read yet). */
  issue?:
    | {
        key: string;
        /** The issue's id (a journaled create names it); absent: the record's issue, whichever. */
        id?: string | undefined;
        status: { name: string; category?: string | undefined };
        /** The newest status change of Jira's changelog, with its author. */
        lastStatusChange?: StatusChange | undefined;
        statusChangedAt: number;
        /**
         * Whether it was read with its changelog before any write of this job, so that a Jira-side
         * move can win (default true). False for a read of the status alone (after a create).
         */
        conflictCheck?: boolean | undefined;
      }
    | undefined;
  /** When the host last changed the record's status. */
  hostStatusAt: number;
  /** The issue key the link knows (a different one read: the issue moved). */
  knownKey: string | null;
  reopen: 'reopen' | 'never' | 'rework';
  recordVersion: number;
  /** What is known of the issue's workflow (for the hops of a walk). */
  graph?: WorkflowGraph | undefined;
  resolution?: string | undefined;
}

export type StatusPlan =
  | {
      kind: 'none';
      rule: PlanRule;
      /** Bases the decision establishes (host:status; status when the issue was read). */
      bases: Map<string, unknown>;
      warning?: string | undefined;
      moved?: { from: string | null; to: string } | undefined;
    }
  /** The issue's status must be read before deciding (one call). */
  | { kind: 'read' }
  | {
      kind: 'jira_wins';
      rule: 'jira_newer';
      conflict: { field: 'status'; winner: 'jira'; rule: 'newest'; lost: string };
      /**
       * Bases to store (a status never agreed, moved by a Jira user since our create): where our
       * side left the issue (the move's `from`) and the host status the decision was made against,
       * so that once the journal is gone the next sync still sees Jira's move (and the host's later
       * change as a change). No target base: until the inbound job agrees, each outbound sync looks
       * again. Absent: the stored bases say it already.
       */
      bases?: Map<string, unknown> | undefined;
    }
  | {
      kind: 'rework';
      rule: 'rework';
      bases: Map<string, unknown>;
      /** The rework token's record version (one task per version). */
      version: number;
      moved?: { from: string | null; to: string } | undefined;
    }
  | {
      kind: 'walk';
      rule: PlanRule;
      from: string;
      to: string;
      closing: boolean;
      /** The hops over the known workflow, each with its screen fields; null: to be explored. */
      hops: PlannedHop[] | null;
      /** Bases established before the walk; STATUS_BASE = `to` once it arrived. */
      bases: Map<string, unknown>;
      moved?: { from: string | null; to: string } | undefined;
    };

export interface PlannedHop {
  transition: string;
  name: string;
  from: string;
  to: string;
  /** The learnt transition the hop takes (what the executor sends). */
  edge: WorkflowEdge;
  /** Screen fields the hop fills (a resolution), or undefined. */
  fields?: Record<string, unknown> | undefined;
  /** Required screen fields the mapping cannot fill (the walk then explores instead). */
  missing: string[];
  /** The screen requires a resolution the mapping names but does not allow there (the walk refuses it). */
  unfit?: { allowed: string[] } | undefined;
  /** The field ids the hop's screen takes, when known (an edit of only these can ride on it). */
  screen?: string[] | undefined;
}

/**
 * Whether the status needs any work this sync: only when the host status or the Jira status it
 * maps to changed since last pushed (or on create / re-sync, or to finish an interrupted walk).
 * A record whose reopen was declined does not ask again on every unrelated edit.
 */
export function statusWorkNeeded(
  want: WantStatus,
  hostStatus: string,
  bases: ReadonlyMap<string, unknown>,
  force: boolean,
  openHops: boolean,
): boolean {
  if (want.status === null) return false;
  return (
    force || openHops || bases.get(HOST_STATUS_BASE) !== hostStatus || bases.get(TARGET_STATUS_BASE) !== want.status
  );
}

/** The status part of an outbound sync (see StatusPlan). */
export function planStatus(p: StatusPlanInput): StatusPlan {
  const openHops = p.journal.some((e) => e.outcome !== 'failed' && e.intent.op === 'transition');
  const hostBase = p.bases.get(HOST_STATUS_BASE);
  const want = p.want;
  if (want.status === null) {
    return {
      kind: 'none',
      rule: 'direction_off',
      bases: new Map([[HOST_STATUS_BASE, p.hostStatus]]),
      warning: hostBase !== p.hostStatus ? `status not pushed: ${want.reason}` : undefined,
    };
  }
  if (!statusWorkNeeded(want, p.hostStatus, p.bases, p.force, openHops))
    return { kind: 'none', rule: 'unchanged', bases: new Map([[HOST_STATUS_BASE, p.hostStatus]]) };
  const issue = p.issue;
  if (!issue) return { kind: 'read' };
  const lc = (s: string): string => s.toLowerCase();
  // Jira moved the issue since the last agreement, later than the host changed its status:
  // Jira's status wins (the inbound job brings it to the record); nothing is pushed.
  const agreed = p.bases.get(STATUS_BASE) as string | undefined;
  const last = issue.lastStatusChange;
  // Never agreed (our create's walk was cut off) and a Jira user moved the issue since: that move
  // is Jira's change against the host's, as much as a move away from an agreed status is.
  const leftAt =
    agreed === undefined &&
    typeof last?.from === 'string' &&
    movedSinceOurCreate(issue.id ?? null, last, p.journal, p.me)
      ? last.from
      : undefined;
  if (
    !(p.hostWins ?? p.force) &&
    issue.conflictCheck !== false &&
    (leftAt !== undefined || (agreed !== undefined && lc(agreed) !== lc(issue.status.name))) &&
    lc(issue.status.name) !== lc(want.status) &&
    issue.statusChangedAt >= p.hostStatusAt &&
    // A hop of our own interrupted walk is no Jira user's change, whatever its time.
    !ourStatusChange(last, p.journal, p.me)
  ) {
    return {
      kind: 'jira_wins',
      rule: 'jira_newer',
      conflict: { field: 'status', winner: 'jira', rule: 'newest', lost: p.hostStatus },
      ...(leftAt !== undefined
        ? {
            bases: new Map<string, unknown>([
              [STATUS_BASE, leftAt],
              [HOST_STATUS_BASE, p.hostStatus],
            ]),
          }
        : {}),
    };
  }
  const bases = new Map<string, unknown>([
    [HOST_STATUS_BASE, p.hostStatus],
    [TARGET_STATUS_BASE, want.status],
  ]);
  const moved = issue.key !== p.knownKey ? { from: p.knownKey, to: issue.key } : undefined;
  if (lc(issue.status.name) === lc(want.status)) {
    bases.set(STATUS_BASE, issue.status.name);
    return { kind: 'none', rule: 'in_place', bases, moved };
  }
  // A record back to an open status while its issue is done: the reopen policy decides.
  const reopening = issue.status.category === 'done' && !want.closing;
  if (reopening && p.reopen === 'never') {
    bases.set(STATUS_BASE, issue.status.name);
    return {
      kind: 'none',
      rule: 'never_reopen',
      bases,
      moved,
      warning: `issue is "${issue.status.name}"; the mapping never reopens issues from the host`,
    };
  }
  if (reopening && p.reopen === 'rework') {
    bases.set(STATUS_BASE, issue.status.name);
    const done = (p.bases.get(REWORK_BASE) as Array<{ version: number }> | undefined) ?? [];
    if (done.some((r) => r.version === p.recordVersion)) return { kind: 'none', rule: 'rework', bases, moved };
    return { kind: 'rework', rule: 'rework', bases, version: p.recordVersion, moved };
  }
  const path = p.graph ? shortestPath(p.graph, issue.status.name, want.status) : null;
  let here = issue.status.name;
  const hops = path?.length
    ? path.map((e) => {
        const { fields, missing, unfit } = hopFields(e, p.resolution);
        const hop: PlannedHop = {
          transition: e.id,
          name: e.name,
          from: here,
          to: e.to.name,
          edge: e,
          fields,
          missing,
          ...(unfit ? { unfit } : {}),
          screen: e.fields ? Object.keys(e.fields) : undefined,
        };
        here = e.to.name;
        return hop;
      })
    : null;
  return {
    kind: 'walk',
    rule: p.force ? (p.knownKey === null ? 'not_linked' : 'resync') : 'host_changed',
    from: issue.status.name,
    to: want.status,
    closing: want.closing,
    hops,
    bases,
    moved,
  };
}

/**
 * The screen fields a hop fills: a resolution (the mapping's, when allowed there, else Done/Fixed
 * or the first allowed) when the screen has one and requires it or the mapping names one; the
 * other required fields are `missing`. `unfit` names a mapping resolution the screen requires but
 * does not allow (the walk refuses it).
 */
export function hopFields(
  t: Pick<WorkflowEdge, 'fields'>,
  resolution: string | undefined,
): { fields: Record<string, unknown> | undefined; missing: string[]; unfit?: { allowed: string[] } } {
  const fields: Record<string, unknown> = {};
  const missing: string[] = [];
  let unfit: { allowed: string[] } | undefined;
  for (const [id, f] of Object.entries(t.fields ?? {})) {
    if (id === 'resolution') {
      const allowed = f.allowedValues ?? [];
      if (!f.required && !resolution) continue;
      let name = resolution;
      if (name && allowed.length && !allowed.includes(name)) {
        if (!f.required) continue;
        unfit = { allowed };
        continue;
      }
      name ??= allowed.find((a) => /^(done|fixed)$/i.test(a)) ?? allowed[0] ?? 'Done';
      fields.resolution = { name };
      continue;
    }
    if (f.required) missing.push(id);
  }
  return { fields: Object.keys(fields).length ? fields : undefined, missing, ...(unfit ? { unfit } : {}) };
}

// ---------------------------------------------------------------------------------------------
// The whole plan

export interface OutboundPlanField extends OutboundFieldInput {
  /** The Jira field written (`summary`, `customfield_10010`). */
  jiraField: string;
  /** Encoding it costs a user look-up (an assignee or user field with an email). */
  userLookup?: boolean | undefined;
}

export interface OutboundPlanInput {
  /** The record's link: none yet, a create in flight ('creating'), linked, or unlinked (issue deleted). */
  link: { state: 'none' | 'creating' | 'linked' | 'unlinked'; issueKey: string | null };
  direction: 'both' | 'to_jira' | 'from_jira';
  /** The mapping or connection is disabled (enabled: false, or paused). */
  paused?: boolean | undefined;
  resync: boolean;
  /** Every field the mapping pushes, with its base, journal and (when read) Jira's value. */
  fields: OutboundPlanField[];
  /** Whether Jira was read (the fields' `jira` and `status.issue` are then set). */
  read: boolean;
  status: Omit<StatusPlanInput, 'force' | 'knownKey'>;
  /** An issue adopted after a crash with journaled bases: read and pushed in the same job. */
  verify?: boolean | undefined;
  /** Create details: a retry searches for the token first; a request sets its assignee after. */
  create?: { retried: boolean; serviceDesk: boolean } | undefined;
  /** Host comments not yet in Jira, host edits of ones that are, posts cut off by a crash. */
  comments: { post: number; edit: number; interrupted: number };
  /** Host attachments not yet in Jira, uploads cut off by a crash. */
  attachments: { upload: number; interrupted: number };
  /** The platform link on the issue: the URL wanted (null: none) and the one last linked. */
  hostLink: { url: string | null; base: unknown };
}

export type PlanStep = { why: PlanRule | string; calls: number; expect: string; bases?: string[] } & (
  | { op: 'create'; fields: string[]; search: boolean }
  | { op: 'read'; issue: string }
  | {
      op: 'edit';
      issue: string;
      fields: Array<{ key: string; jira_field: string; value: unknown; rule: PlanRule }>;
      /** The transition the edit rides on (no call of its own). */
      carried_by?: string | undefined;
    }
  | {
      op: 'transition';
      issue: string;
      from: string;
      to: string;
      transition: string | null;
      screen_fields?: Record<string, unknown> | undefined;
      /** Field keys the hop carries (the edit riding on it). */
      carries?: string[] | undefined;
    }
  | { op: 'explore'; issue: string; from: string | null; to: string }
  | { op: 'rework'; issue: string; version: number }
  | { op: 'link'; issue: string; url: string }
  | { op: 'comment'; issue: string; post: number; edit: number; interrupted: number }
  | { op: 'attachment'; issue: string; upload: number; interrupted: number }
);

export interface OutboundPlan {
  /** Nothing to do (and why), or the steps in order. */
  steps: PlanStep[];
  /** Every field's decision (pushed or not, and the rule). */
  fields: OutboundFieldDecision[];
  status: { action: string; rule: PlanRule; from?: string | undefined; to?: string | undefined; hops?: number | null };
  conflicts: Array<{ field: string; winner: 'jira'; rule: string; lost: unknown }>;
  warnings: string[];
  /** Jira calls the steps cost (a lower bound when a walk must explore: `calls_exact` false). */
  calls: number;
  calls_exact: boolean;
  /** Why nothing happens, when `steps` is empty. */
  idle?: string | undefined;
  /** One line: "move SEC-12 In Progress → Resolved (2 hops), set priority High — 4 Jira calls". */
  summary: string;
}

const RULE_TEXT: Record<string, string> = {
  unchanged: 'unchanged since last agreed',
  same_severity: "Jira's priority maps to the record's severity",
  first_push: 'never synced: the host value goes',
  host_changed: 'the host changed it',
  host_newer: 'both changed; the host change is newer',
  jira_newer: "both changed; Jira's change is newer (it comes to the record)",
  locked: 'locked to Jira',
  agree: 'both sides hold the same value',
  ours: 'Jira holds our own earlier write',
  resync: 're-sync: the record is pushed as it is',
  direction_off: "the mapping's direction does not push it",
  not_linked: 'not linked: the issue is created',
  in_place: 'the issue is already there',
  never_reopen: 'the mapping never reopens issues',
  rework: 'reopen: rework opens a task instead',
};

/** A short text for a rule (the console and the API's `why_text`). */
export function ruleText(rule: string): string {
  return RULE_TEXT[rule] ?? rule;
}

const show = (v: unknown): string =>
  v === null || v === undefined
    ? 'nothing'
    : Array.isArray(v)
      ? v.join(', ') || 'nothing'
      : typeof v === 'string'
        ? v.length > 40
          ? `${v.slice(0, 37)}…`
          : v
        : JSON.stringify(v);

/**
 * The whole outbound plan of one record, in the order the executor takes the steps: create (or
 * read the issue), the field edit, the status (rework task, or each hop of the walk; the edit
 * rides on the last hop when its screen takes every field), the platform link, comments,
 * attachments. Counts the Jira calls of each step as the executor spends them.
 */
export function planOutbound(p: OutboundPlanInput): OutboundPlan {
  const issue = p.link.issueKey ?? '(new issue)';
  const steps: PlanStep[] = [];
  const warnings: string[] = [];
  const conflicts: OutboundPlan['conflicts'] = [];
  const idle = (why: string, fields: OutboundFieldDecision[] = []): OutboundPlan => ({
    steps: [],
    fields,
    status: { action: 'none', rule: 'direction_off' },
    conflicts: [],
    warnings: [why],
    calls: 0,
    calls_exact: true,
    idle: why,
    summary: `next sync: nothing — ${why}`,
  });
  if (p.link.state === 'unlinked' && !p.resync)
    return idle('the Jira issue was deleted and the record unlinked; request a re-sync to create a new issue');
  if (p.direction === 'from_jira') return idle('mapping direction is from_jira: nothing is pushed');
  // Paused: the plan is what the sync will do once resumed.
  if (p.paused) warnings.push('the mapping or connection is paused: this runs when it is resumed');
  const creating = p.link.state !== 'linked';
  let exact = true;
  let fieldDecisions: OutboundFieldDecision[];
  let status: StatusPlan;
  let editFields: OutboundPlanField[] = [];
  if (creating) {
    const search = p.link.state === 'creating' && (p.create?.retried ?? true);
    const sd = p.create?.serviceDesk === true;
    const lookups = p.fields.filter((f) => f.userLookup && f.want !== null).length;
    const assignee = sd && p.fields.some((f) => f.key === 'assignee' && f.want !== null);
    steps.push({
      op: 'create',
      why: 'not_linked',
      fields: p.fields.map((f) => f.key),
      search,
      // The create (and its token search on a retry), user look-ups, a request's assignee edit.
      calls: 1 + (search ? 1 : 0) + lookups + (assignee ? 1 : 0),
      expect: search
        ? 'the issue exists once: adopted by its creation token if an earlier attempt made it, else created'
        : 'a new issue holding every mapped field',
      bases: p.fields.map((f) => f.key),
    });
    fieldDecisions = p.fields.map((f) => ({ key: f.key, action: 'push', rule: 'not_linked' }));
    // After a create the status is checked on a read of the new issue (one call).
    status = planStatus({ ...p.status, force: true, knownKey: null, issue: undefined });
  } else {
    fieldDecisions = p.fields.map((f) =>
      decideOutboundField({ ...f, hostWins: p.resync, jira: p.read ? f.jira : undefined }),
    );
    const candidates = p.fields.filter((f) => fieldCandidate(f).candidate);
    const statusWork =
      p.verify === true ||
      p.resync ||
      statusWorkNeeded(
        p.status.want,
        p.status.hostStatus,
        p.status.bases,
        false,
        p.status.journal.some((e) => e.outcome !== 'failed' && e.intent.op === 'transition'),
      );
    if (candidates.length || statusWork) {
      steps.push({
        op: 'read',
        issue,
        why: candidates.length ? 'host_changed' : 'status',
        calls: 1,
        expect: p.read
          ? 'read done for this plan'
          : "the issue's fields, status and changelog: a newer Jira change is never overwritten",
      });
    }
    status = planStatus({
      ...p.status,
      force: p.resync || p.verify === true,
      hostWins: p.resync,
      knownKey: p.link.issueKey,
      issue: p.read ? p.status.issue : undefined,
    });
    editFields = p.fields.filter((f, i) => fieldDecisions[i]!.action === 'push');
  }
  for (const d of fieldDecisions) if (d.conflict) conflicts.push(d.conflict);
  const pushes = editFields.map((f) => {
    const d = fieldDecisions.find((x) => x.key === f.key)!;
    return { key: f.key, jira_field: f.jiraField, value: f.want, rule: d.rule };
  });
  const lookups = editFields.filter((f) => f.userLookup && f.want !== null).length;
  // The edit rides on the walk's last hop when that hop's screen is known to take every field.
  const hops = status.kind === 'walk' ? status.hops : null;
  const last = hops?.[hops.length - 1];
  const carry =
    !creating &&
    status.kind === 'walk' &&
    last !== undefined &&
    hops!.every((h) => h.missing.length === 0) &&
    last.screen !== undefined &&
    screenTakes({ fields: Object.fromEntries(last.screen.map((k) => [k, { required: false }])) }, [
      ...new Set(editFields.map((f) => f.jiraField)),
    ]);
  if (pushes.length) {
    steps.push({
      op: 'edit',
      issue,
      why: pushes.map((x) => x.rule).includes('resync') ? 'resync' : 'host_changed',
      fields: pushes,
      ...(carry && last ? { carried_by: last.name } : {}),
      calls: (carry ? 0 : 1) + lookups,
      expect: pushes.map((x) => `${x.key} = ${show(x.value)}`).join('; '),
      bases: pushes.map((x) => x.key),
    });
  }
  let statusSummary: OutboundPlan['status'];
  if (creating) {
    const to = p.status.want.status;
    steps.push({
      op: 'read',
      issue,
      why: 'not_linked',
      calls: 1,
      expect: to ? `the new issue's status (moved on to ${to} when it is not there)` : "the new issue's status",
    });
    statusSummary = { action: to ? 'check' : 'none', rule: 'not_linked', to: to ?? undefined };
    if (to) exact = false;
  } else if (status.kind === 'read') {
    // Not read (a preview from the store): the issue is assumed where it was agreed.
    const agreed = p.status.bases.get(STATUS_BASE) as string | undefined;
    const to = p.status.want.status!;
    statusSummary = { action: 'move', rule: p.resync ? 'resync' : 'host_changed', from: agreed, to };
    const assumed = agreed
      ? planStatus({
          ...p.status,
          force: p.resync || p.verify === true,
          knownKey: p.link.issueKey,
          issue: { key: issue, status: { name: agreed }, statusChangedAt: 0 },
        })
      : null;
    if (assumed && assumed.kind === 'walk' && assumed.hops) {
      pushHops(assumed.hops);
      statusSummary.hops = assumed.hops.length;
    } else if (assumed && assumed.kind === 'none') {
      statusSummary = { action: 'none', rule: assumed.rule, from: agreed, to };
    } else {
      steps.push({
        op: 'explore',
        issue,
        from: agreed ?? null,
        to,
        why: 'host_changed',
        calls: p.status.want.status !== null && p.status.want.closing ? 2 : 3,
        expect: `the issue reaches ${to} (the workflow is read on the way: two calls a hop)`,
        bases: [STATUS_BASE],
      });
      exact = false;
      statusSummary.hops = null;
    }
  } else if (status.kind === 'none') {
    if (status.warning) warnings.push(status.warning);
    statusSummary = { action: 'none', rule: status.rule };
  } else if (status.kind === 'jira_wins') {
    conflicts.push(status.conflict);
    statusSummary = { action: 'none', rule: 'jira_newer' };
  } else if (status.kind === 'rework') {
    steps.push({
      op: 'rework',
      issue,
      version: status.version,
      why: 'rework',
      calls: 2,
      expect: 'a rework task, linked to the issue (once per record version)',
      bases: [REWORK_BASE],
    });
    statusSummary = { action: 'rework', rule: 'rework' };
  } else {
    statusSummary = {
      action: 'move',
      rule: status.rule,
      from: status.from,
      to: status.to,
      hops: status.hops?.length ?? null,
    };
    if (status.hops && status.hops.every((h) => h.missing.length === 0)) pushHops(status.hops);
    else {
      steps.push({
        op: 'explore',
        issue,
        from: status.from,
        to: status.to,
        why: status.rule,
        calls: status.closing ? 2 : 3,
        expect: `the issue reaches ${status.to} (the workflow is read on the way: two calls a hop)`,
        bases: [STATUS_BASE],
      });
      exact = false;
    }
  }
  function pushHops(list: PlannedHop[]): void {
    list.forEach((h, i) => {
      const isLast = i === list.length - 1;
      steps.push({
        op: 'transition',
        issue,
        from: h.from,
        to: h.to,
        transition: h.transition,
        ...(h.fields ? { screen_fields: h.fields } : {}),
        ...(isLast && carry ? { carries: pushes.map((x) => x.key) } : {}),
        why: statusSummary.rule,
        calls: 1,
        expect: `${issue} in ${h.to}`,
        ...(isLast ? { bases: [STATUS_BASE, HOST_STATUS_BASE, TARGET_STATUS_BASE] } : {}),
      });
    });
  }
  if (p.hostLink.url !== null && p.hostLink.base !== p.hostLink.url) {
    steps.push({
      op: 'link',
      issue,
      url: p.hostLink.url,
      why: p.hostLink.base === undefined ? 'first_push' : 'host_changed',
      calls: 1,
      expect: 'a link back to the record on the platform',
      bases: ['host_link'],
    });
  }
  const c = p.comments;
  if (c.post + c.edit + c.interrupted > 0) {
    steps.push({
      op: 'comment',
      issue,
      post: c.post,
      edit: c.edit,
      interrupted: c.interrupted,
      why: 'host_changed',
      // One call a comment; posts cut off by a crash are looked for first (one list).
      calls: c.post + c.edit + c.interrupted + (c.interrupted ? 1 : 0),
      expect: 'every host comment in Jira exactly once, as the host last wrote it',
    });
  }
  const a = p.attachments;
  if (a.upload + a.interrupted > 0) {
    steps.push({
      op: 'attachment',
      issue,
      upload: a.upload,
      interrupted: a.interrupted,
      why: 'host_changed',
      calls: a.upload + 2 * a.interrupted,
      expect: 'every host attachment in Jira exactly once',
    });
  }
  const calls = steps.reduce((n, s) => n + s.calls, 0);
  const plan: OutboundPlan = {
    steps,
    fields: fieldDecisions,
    status: statusSummary,
    conflicts,
    warnings,
    calls,
    calls_exact: exact,
    summary: '',
  };
  plan.summary = summarize(plan, issue);
  return plan;
}

/** "next sync: move SEC-12 In Progress → Resolved (2 hops), set priority High — 4 Jira calls". */
export function summarize(
  plan: Pick<OutboundPlan, 'steps' | 'status' | 'calls' | 'calls_exact' | 'conflicts'>,
  issue: string,
): string {
  const parts: string[] = [];
  for (const s of plan.steps) {
    if (s.op === 'create') parts.push(`create the issue with ${s.fields.length} fields`);
    if (s.op === 'edit') parts.push(`set ${s.fields.map((f) => `${f.key} ${show(f.value)}`).join(', ')}`);
    if (s.op === 'rework') parts.push(`open a rework task for ${issue}`);
    if (s.op === 'link') parts.push('link back to the record');
    if (s.op === 'comment')
      parts.push(
        [
          s.post + s.interrupted ? `post ${s.post + s.interrupted} comment(s)` : '',
          s.edit ? `edit ${s.edit} comment(s)` : '',
        ]
          .filter(Boolean)
          .join(', '),
      );
    if (s.op === 'attachment') parts.push(`upload ${s.upload + s.interrupted} attachment(s)`);
  }
  const st = plan.status;
  if (st.action === 'move' && st.to) {
    const hops =
      st.hops === null || st.hops === undefined ? 'path to be explored' : `${st.hops} hop${st.hops === 1 ? '' : 's'}`;
    parts.unshift(`move ${issue} ${st.from ?? '?'} → ${st.to} (${hops})`);
  }
  if (st.action === 'check' && st.to) parts.push(`check it is in ${st.to}`);
  for (const c of plan.conflicts) parts.push(`keep Jira's ${c.field} (${c.rule === 'lock' ? 'locked' : 'newer'})`);
  if (!parts.length) return 'next sync: nothing to send — 0 Jira calls';
  const calls = `${plan.calls_exact ? '' : 'at least '}${plan.calls} Jira call${plan.calls === 1 ? '' : 's'}`;
  return `next sync: ${parts.join(', ')} — ${calls}`;
}
