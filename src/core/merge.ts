/**
 * The three-way rule every synced field goes through (see docs/architecture.md, "sync model").
 *
 * For one field of one link we know the base (the value both sides last agreed on), the host's
 * current value and Jira's current value, all in the same normalised form. The decision depends
 * only on those values (plus the lock, the direction and the two change times), never on who sent
 * an event, so an echo of our own write, a redelivery and a late delivery decide "nothing".
 *
 * Pure: no I/O, no clock. Values are compared by their canonical JSON.
 */

export type Side = 'host' | 'jira';
export type Direction = 'both' | 'to_jira' | 'from_jira';

export interface FieldInput {
  /** The last agreed value; undefined when the field has never been agreed (newly mapped). */
  base: unknown;
  host: unknown;
  jira: unknown;
  direction: Direction;
  /** The side that wins a conflict regardless of time. */
  lock?: Side | undefined;
  /** When each side last changed (epoch ms); used only to break a conflict. */
  hostChangedAt: number;
  jiraChangedAt: number;
}

export type FieldDecision =
  /** Neither side changed (an echo, a duplicate, a stale delivery look like this). */
  | { action: 'none' }
  /** Both sides changed to the same value: record it as agreed; nothing to write. */
  | { action: 'agree'; value: unknown }
  /** Jira's value goes to the host; then it is the base. */
  | { action: 'to_host'; value: unknown; conflict?: Conflict }
  /** The host's value goes to Jira (the outbound job does it); the base stays until it has. */
  | { action: 'to_jira'; value: unknown; conflict?: Conflict }
  /** A side changed but the field's direction does not let it flow: nothing moves. */
  | { action: 'blocked'; side: Side };

export interface Conflict {
  winner: Side;
  /** Why the winner won. */
  rule: 'lock' | 'newest';
  /** The value that lost (logged, never silently dropped). */
  lost: unknown;
}

/** Canonical JSON: object keys sorted, so equal values give equal text. */
export function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v === undefined ? null : v));
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

export function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

const flowsToHost = (d: Direction): boolean => d === 'both' || d === 'from_jira';
const flowsToJira = (d: Direction): boolean => d === 'both' || d === 'to_jira';

/**
 * Decides one field. Without a base (never agreed), a difference counts as a change on Jira's
 * side when Jira may flow to the host, else on the host's side.
 */
export function decideField(f: FieldInput): FieldDecision {
  const hostJira = sameValue(f.host, f.jira);
  let hostChanged: boolean;
  let jiraChanged: boolean;
  if (f.base === undefined) {
    if (hostJira) return { action: 'agree', value: f.jira };
    jiraChanged = flowsToHost(f.direction);
    hostChanged = !jiraChanged;
  } else {
    hostChanged = !sameValue(f.host, f.base);
    jiraChanged = !sameValue(f.jira, f.base);
  }
  if (!hostChanged && !jiraChanged) return { action: 'none' };
  if (hostChanged && jiraChanged && hostJira) return { action: 'agree', value: f.jira };
  if (jiraChanged && !hostChanged) {
    return flowsToHost(f.direction) ? { action: 'to_host', value: f.jira } : { action: 'blocked', side: 'jira' };
  }
  if (hostChanged && !jiraChanged) {
    return flowsToJira(f.direction) ? { action: 'to_jira', value: f.host } : { action: 'blocked', side: 'host' };
  }
  // Both changed, to different values: a conflict.
  const canHost = flowsToHost(f.direction);
  const canJira = flowsToJira(f.direction);
  let winner: Side;
  let rule: Conflict['rule'];
  if (f.lock) {
    winner = f.lock;
    rule = 'lock';
  } else if (!canHost || !canJira) {
    // One-way field: the side allowed to write wins.
    winner = canHost ? 'jira' : 'host';
    rule = 'lock';
  } else {
    // Newest wins; an exact tie goes to Jira (people in Jira see the issue they just edited).
    winner = f.hostChangedAt > f.jiraChangedAt ? 'host' : 'jira';
    rule = 'newest';
  }
  if (winner === 'jira') {
    if (!canHost) return { action: 'blocked', side: 'jira' };
    return { action: 'to_host', value: f.jira, conflict: { winner, rule, lost: f.host } };
  }
  if (!canJira) return { action: 'blocked', side: 'host' };
  return { action: 'to_jira', value: f.host, conflict: { winner, rule, lost: f.jira } };
}

// ------------------------------------------------------------------------------------------
// Value tables: status and priority, inbound.
// ------------------------------------------------------------------------------------------

export interface JiraStatusRef {
  id: string;
  name: string;
  /** Status category key: `new`, `indeterminate`, `done`. */
  category?: string | undefined;
}

/**
 * The host status for a Jira status. Keys of the inbound table may be a status id, a status
 * name (any case; so any Jira language works by listing its names), or `category:<key>` for a
 * whole status category (`category:done`). Exact id first, then name, then category, then the
 * default; null when nothing matches (the status is not synced back).
 */
export function hostStatusFor(
  status: JiraStatusRef,
  table: Record<string, string>,
  fallback?: string | undefined,
): string | null {
  if (Object.hasOwn(table, status.id)) return table[status.id]!;
  const lower = status.name.toLowerCase();
  for (const [k, v] of Object.entries(table)) if (k.toLowerCase() === lower) return v;
  if (status.category) {
    const cat = `category:${status.category}`.toLowerCase();
    for (const [k, v] of Object.entries(table)) if (k.toLowerCase() === cat) return v;
  }
  return fallback ?? null;
}

/**
 * The host severity for a Jira priority name: the inbound table (any case), else the inverse of
 * the outbound table when exactly one severity maps to that priority, else the default.
 */
export function severityFor(
  priority: string,
  inTable: Record<string, string>,
  outTable: Record<string, string>,
  fallback?: string | undefined,
): string | null {
  const lower = priority.toLowerCase();
  for (const [k, v] of Object.entries(inTable)) if (k.toLowerCase() === lower) return v;
  const inverse = Object.entries(outTable).filter(([, p]) => p.toLowerCase() === lower);
  if (inverse.length === 1) return inverse[0]![0];
  return fallback ?? null;
}

/**
 * Whether reopening a closed record from Jira is allowed: a record in a closed status moves to
 * an open one only when the policy allows it.
 */
export function reopenAllowed(
  currentHost: string,
  nextHost: string,
  closedStatuses: readonly string[],
  allowFromJira: boolean,
): boolean {
  if (allowFromJira) return true;
  return !(closedStatuses.includes(currentHost) && !closedStatuses.includes(nextHost));
}

/** Labels as the host keeps them: Jira's minus creation tokens and the mapping's own labels. */
export function hostLabelsFrom(jiraLabels: readonly string[], mappingLabels: readonly string[], tokenPrefix: string) {
  const own = new Set(mappingLabels);
  return [...new Set(jiraLabels.filter((l) => !l.startsWith(tokenPrefix) && !own.has(l)))].sort();
}

/**
 * The sweep's second look. Jira's `updated` is the sweep's change marker, but two writes in the
 * same millisecond (ours, read back, and a person's whose webhook was lost) share it. The search
 * page already carries the summary, status and priority at no extra call: when one of them
 * differs from the value both sides last agreed on, the issue has a change nobody applied yet.
 * `bases` holds the agreed values (field_bases: summary, status, priority; JSON-decoded).
 */
export function driftedFromBases(
  seen: { summary?: string | undefined; status?: string | undefined; priority?: string | null | undefined },
  bases: ReadonlyMap<string, unknown>,
): string[] {
  const out: string[] = [];
  const differs = (field: 'summary' | 'status' | 'priority', now: string | null | undefined, fold: boolean): void => {
    if (now === undefined || !bases.has(field)) return;
    const base = bases.get(field);
    if (typeof base !== 'string' && base !== null) return;
    const a = fold && typeof base === 'string' ? base.toLowerCase() : base;
    const b = fold && typeof now === 'string' ? now.toLowerCase() : now;
    if (a !== b) out.push(field);
  };
  differs('summary', seen.summary, false);
  differs('status', seen.status, true);
  differs('priority', seen.priority, true);
  return out;
}
