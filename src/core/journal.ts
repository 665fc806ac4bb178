/**
 * The journal's decisions (issue 16), pure. The outbound job records each Jira write it is about
 * to make (its intent) and, once Jira answered, its outcome. A job killed between the write and
 * the store write that follows it leaves an intent without an outcome; these rules tell the next
 * job which of what it reads in Jira is its own doing, whatever the change's time:
 *
 *  - a field whose Jira value is one a journaled create or edit sent is ours: the agreed base is
 *    that value (so the host's newer value is pushed, and Jira's older one never comes back);
 *  - a status whose last change in Jira's changelog is a hop a journaled walk made is ours: the
 *    agreed status is where the walk got to (the walk goes on, nobody in Jira moved the issue);
 *  - a status with no change in Jira's changelog at all, on an issue a journaled create of ours
 *    made, is the initial status our create produced: no Jira user's change (a crash between the
 *    link and the status walk; the record's status stands and the walk goes on).
 *
 * Intents whose outcome is 'failed' (Jira refused the write) changed nothing and are not ours.
 */
import { sameValue } from './merge.js';

export type JournalIntent =
  | { op: 'create'; values: Record<string, unknown> }
  | { op: 'edit'; values: Record<string, unknown> }
  | { op: 'transition'; from: string; to: string; transition: string }
  /** A rework task created with `token` for the issue `of` (issue 19): a crash before its row is adopted, not made twice. */
  | { op: 'rework'; token: string; of: string; at: number };

export interface JournalEntry {
  id: string;
  /** The issue written to (null for a create). */
  target: string | null;
  intent: JournalIntent;
  /** null: unknown (in flight when the process died, or no answer); 'done'; 'failed'. */
  outcome: 'done' | 'failed' | null;
  /** When the intent was recorded (epoch ms), before the write was sent. */
  at?: number | undefined;
}

/**
 * The earliest time an earlier attempt may have created the record's issue: the oldest journaled
 * create Jira did not refuse (its intent is recorded before the call). Null when none: no earlier
 * attempt reached Jira's create (as far as the journal knows).
 */
export function createWindowStart(entries: readonly JournalEntry[]): number | null {
  let first: number | null = null;
  for (const e of mayHaveWritten(entries))
    if (e.intent.op === 'create' && e.at !== undefined && (first === null || e.at < first)) first = e.at;
  return first;
}

/** The entries that may have changed Jira (all but those Jira refused), oldest first as given. */
export function mayHaveWritten(entries: readonly JournalEntry[]): JournalEntry[] {
  return entries.filter((e) => e.outcome !== 'failed');
}

/** Every value the journal sent for a base key (creates and edits), oldest first. */
export function journaledValues(entries: readonly JournalEntry[], key: string): unknown[] {
  const out: unknown[] = [];
  for (const e of mayHaveWritten(entries)) {
    if (e.intent.op !== 'create' && e.intent.op !== 'edit') continue;
    if (Object.hasOwn(e.intent.values, key)) out.push(e.intent.values[key]);
  }
  return out;
}

/**
 * The base to decide a field against. When Jira's value differs from the agreed base but equals a
 * value the journal sent (an edit or a create whose bookkeeping a crash cut off), that write is
 * ours and its value is the base; otherwise the base stays. `same` compares a Jira value with a
 * journaled one (texts: by their normalised form).
 */
export function ourBase(
  base: unknown,
  jira: unknown,
  journaled: readonly unknown[],
  same: (jira: unknown, value: unknown) => boolean = sameValue,
): unknown {
  if (base !== undefined && same(jira, base)) return base;
  for (let i = journaled.length - 1; i >= 0; i--) if (same(jira, journaled[i])) return journaled[i];
  return base;
}

/**
 * The bases of an issue adopted after a crash (found by its creation token): what the oldest
 * journaled create sent — the issue was created by the first attempt that reached Jira, and a
 * later attempt's values are recognised field by field by ourBase once the issue is read. Null
 * when no create was journaled (an issue created before the journal existed).
 */
export function adoptionBases(entries: readonly JournalEntry[]): Map<string, unknown> | null {
  const first = mayHaveWritten(entries).find((e) => e.intent.op === 'create');
  if (!first || first.intent.op !== 'create') return null;
  return new Map(Object.entries(first.intent.values));
}

/** The last status change in Jira's changelog, by status names. */
export interface StatusChange {
  from: string | null;
  to: string | null;
}

/** Whether Jira's last status change is a hop of a journaled walk (ours, whatever its time). */
export function ourStatusChange(last: StatusChange | undefined, entries: readonly JournalEntry[]): boolean {
  if (!last?.to) return false;
  const eq = (a: string | null, b: string): boolean => a !== null && a.toLowerCase() === b.toLowerCase();
  return mayHaveWritten(entries).some(
    (e) =>
      e.intent.op === 'transition' && eq(last.to, e.intent.to) && (last.from === null || eq(last.from, e.intent.from)),
  );
}

/**
 * Whether the issue's status is the initial one our own journaled create produced: a create of
 * ours that may have reached Jira made this issue (its target, once Jira answered, is the issue;
 * unknown while in flight) and Jira's changelog holds no status change since (`last` absent: no
 * hop of ours, no move by a Jira user). A job killed after the link was saved and before the status
 * walk leaves exactly this; the issue's status (Jira's initial Open) is then ours, not a Jira user's
 * change to pull back onto the record.
 */
export function initialStatusOfOurCreate(
  issueId: string,
  last: StatusChange | undefined,
  entries: readonly JournalEntry[],
): boolean {
  return last === undefined && madeByOurCreate(issueId, entries);
}

/**
 * Whether a journaled create of ours that may have reached Jira made this issue (its target, once
 * Jira answered; unknown while in flight): its status work may not have run yet, so the record's
 * status was never agreed with Jira — it is what our create set out to walk the issue to.
 */
export function madeByOurCreate(issueId: string, entries: readonly JournalEntry[]): boolean {
  return mayHaveWritten(entries).some((e) => e.intent.op === 'create' && (e.target === null || e.target === issueId));
}

/** Whether the journal holds a hop that may have moved the issue (the status work must look). */
export function hasOpenHops(entries: readonly JournalEntry[]): boolean {
  return mayHaveWritten(entries).some((e) => e.intent.op === 'transition');
}

/**
 * A rework task an earlier attempt set out to create and whose row was never written (no outcome):
 * the next attempt uses its token and searches first, so a crash after Jira's create adopts that
 * task instead of making a second one. Null when there is none.
 */
export function pendingRework(
  entries: readonly JournalEntry[],
): { id: string; token: string; of: string; at: number } | null {
  for (const e of entries) {
    if (e.outcome === null && e.intent.op === 'rework')
      return { id: e.id, token: e.intent.token, of: e.intent.of, at: e.intent.at };
  }
  return null;
}
