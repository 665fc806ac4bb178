import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * The sync journal (issue 16): before a Jira write the outbound job records its intent — the
 * operation, its target and the values it sends or the status it moves to — and after Jira answers
 * the outcome ('done', or 'failed' when Jira refused it; none while unknown). What a job killed in
 * between left behind is known afterwards as its own: an adopted issue's bases are what it was
 * created with, a hop of an interrupted status walk is never a Jira user's change. A job that
 * finishes removes the record's rows (bounded growth). Same SQL on both engines.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `CREATE TABLE sync_journal (
      id TEXT PRIMARY KEY,
      record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
      job_id BIGINT,
      op TEXT NOT NULL,
      target TEXT,
      intent TEXT NOT NULL,
      outcome TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    )`,
    `CREATE INDEX sync_journal_record_idx ON sync_journal (record_id, created_at)`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
