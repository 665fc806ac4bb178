/**
 * The journal's decisions (issue 16), pure. The outbound job records each Jira write it is about
 * to make (its intent) and, once Jira answered, its outcome. A job killed between the write and
 * the store write that follows it leaves an intent without an outcome; these rules tell the next
 * job which of what it reads in Jira is its own doing, whatever the change's time:
 *
 *  - a field whose Jira value is one a journaled create or edit sent is ours: the agreed base is
 *    that value (so the host's newer value is pushed, and Jira's older one never comes back);
 *  - a status whose last change in Jira's changelog is a hop a journaled walk made is ours: the
 *    agreed status is where the walk got to (the walk goes on, nobody in Jira moved the issue).
 *    The hop is matched by its names (from → to) against the newest journaled hops first: a hop
 *    Jira answered ('done') is the newest move of ours, so an older hop of the same names (a host
 *    status that went A → B → A) is never taken for a later move. And it is ours only when the
 *    changelog entry's author is jira-bridge's own account: a Jira user making the same move
 *    (our hop was cut off before Jira got it) is a Jira user's change. When the author cannot be
 *    told (an anonymous change, an author or an own account not read, no identifier both carry)
 *    the names alone decide, as before;
 *  - a status with no change in Jira's changelog at all, on an issue a journaled create of ours
 *    made, is the initial status our create produced: no Jira user's change (a crash between the
 *    link and the status walk; the record's status stands and the walk goes on). A status change
 *    there that is not ours (above) is a Jira user's move of an issue whose status was never
 *    agreed: the newer of it and the host's status change wins, on both sides.
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

/** Who made a change, as Jira's changelog names them: Cloud accountId; Data Center user key, name. */
export interface Actor {
  accountId?: string | undefined;
  key?: string | undefined;
  name?: string | undefined;
}

/** The last status change in Jira's changelog, by status names, and who made it. */
export interface StatusChange {
  from: string | null;
  to: string | null;
  /** The changelog entry's author; null or absent: unknown (an anonymous change, or not read). */
  by?: Actor | null | undefined;
}

/**
 * Whether `by` is jira-bridge's own account `me`: true or false when an identifier both carry
 * tells (accountId, else user key, else user name), null when it cannot be told (either unknown).
 */
export function byAccount(by: Actor | null | undefined, me: Actor | null | undefined): boolean | null {
  if (!by || !me) return null;
  if (by.accountId && me.accountId) return by.accountId === me.accountId;
  if (by.key && me.key) return by.key === me.key;
  if (by.name && me.name) return by.name === me.name;
  return null;
}

/**
 * Whether Jira's last status change is a hop of a journaled walk (ours, whatever its time): its
 * names match a hop that may have reached Jira, looked for newest first and no further back than
 * the newest hop Jira answered (a hop after it would be the last change), and its author is
 * jira-bridge's own account `me` — or cannot be told (see byAccount: then the names alone decide).
 */
export function ourStatusChange(
  last: StatusChange | undefined,
  entries: readonly JournalEntry[],
  me?: Actor | null,
): boolean {
  if (!last?.to) return false;
  // Another account made it: a Jira user's move, whichever hop of ours it repeats.
  if (byAccount(last.by, me) === false) return false;
  const eq = (a: string | null, b: string): boolean => a !== null && a.toLowerCase() === b.toLowerCase();
  const hops = mayHaveWritten(entries);
  for (let i = hops.length - 1; i >= 0; i--) {
    const e = hops[i]!;
    if (e.intent.op !== 'transition') continue;
    if (eq(last.to, e.intent.to) && (last.from === null || eq(last.from, e.intent.from))) return true;
    // Jira answered this hop: it moved the issue after every older hop, so an older hop of the
    // same names is not the last change (A → B → A: B → A done, then someone's A → B).
    if (e.outcome === 'done') return false;
  }
  return false;
}

/**
 * Whether Jira's last status change is a Jira user's move on an issue our journaled create made
 * (its status never agreed: the walk of that create was cut off): there is a change, and it is
 * not ours (ourStatusChange). The newer of it and the host's status change then wins.
 */
export function movedSinceOurCreate(
  issueId: string | null,
  last: StatusChange | undefined,
  entries: readonly JournalEntry[],
  me?: Actor | null,
): boolean {
  return !!last?.to && madeByOurCreate(issueId, entries) && !ourStatusChange(last, entries, me);
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
 * `issueId` null: the record's issue, whichever (the journal is the record's).
 */
export function madeByOurCreate(issueId: string | null, entries: readonly JournalEntry[]): boolean {
  return mayHaveWritten(entries).some(
    (e) => e.intent.op === 'create' && (e.target === null || issueId === null || e.target === issueId),
  );
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
