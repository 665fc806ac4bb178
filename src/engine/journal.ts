/**
 * The sync journal in the store (table sync_journal, migration 007): store writes only, never a
 * Jira call. The decisions over it are pure, in src/core/journal.ts.
 */
import type { Kysely } from 'kysely';
import type { JournalEntry, JournalIntent } from '../core/journal.js';
import { newId } from '../store/ids.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';

/** Records an intent before the Jira write; returns its id (for the outcome). */
export async function journalIntent(
  db: Kysely<Database>,
  e: { recordId: string; jobId: number | null; target: string | null; intent: JournalIntent; at: number },
): Promise<string> {
  const id = newId(e.at);
  await db
    .insertInto('sync_journal')
    .values({
      id,
      record_id: e.recordId,
      job_id: e.jobId,
      op: e.intent.op,
      target: e.target,
      intent: toJson(e.intent),
      outcome: null,
      created_at: e.at,
      updated_at: e.at,
    })
    .execute();
  return id;
}

/** Records Jira's answer to an intent: it took the write ('done') or refused it ('failed'). */
export async function journalOutcome(
  db: Kysely<Database>,
  id: string,
  outcome: 'done' | 'failed',
  at: number,
  target?: string,
): Promise<void> {
  await db
    .updateTable('sync_journal')
    .set({ outcome, updated_at: at, ...(target !== undefined ? { target } : {}) })
    .where('id', '=', id)
    .execute();
}

/** The record's journal rows still there (work not finished), oldest first. */
export async function openJournal(db: Kysely<Database>, recordId: string): Promise<JournalEntry[]> {
  const rows = await db
    .selectFrom('sync_journal')
    .select(['id', 'target', 'intent', 'outcome', 'created_at'])
    .where('record_id', '=', recordId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    target: r.target,
    intent: fromJson<JournalIntent>(r.intent)!,
    outcome: r.outcome === 'done' || r.outcome === 'failed' ? r.outcome : null,
    at: Number(r.created_at),
  }));
}

/**
 * Removes the record's rows once an outbound job finished its work: the bases it stores hold
 * everything the rows told. (A record's jobs never run at once — one job key per record — so no
 * other job is writing rows meanwhile.)
 */
export async function pruneJournal(db: Kysely<Database>, recordId: string): Promise<void> {
  await db.deleteFrom('sync_journal').where('record_id', '=', recordId).execute();
}
