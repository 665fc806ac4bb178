import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * Rework tasks as linked issues of their record (issue 19 item 5): one row per task — the record,
 * the Jira issue, the creation token it was made with (`rework-<record>-<record version>`, the
 * journal's key after a crash), whether the Jira issue link to the primary issue exists yet, and
 * its state (`open` until the record is fixed again or someone closes it in Jira, then `closed`).
 * Inbound deliveries of these issues are routed to their record (comments only; never the primary
 * issue's fields). Comments remember which issue they came from (`comment_links.jira_issue_id`,
 * null: the record's primary issue). Tasks made before this migration (kept in the record's
 * `rework` base) become rows, open, linked. Same SQL on both engines.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `CREATE TABLE rework_links (
      token TEXT PRIMARY KEY,
      record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
      connection_id TEXT NOT NULL,
      issue_id TEXT NOT NULL,
      issue_key TEXT NOT NULL,
      rework_of TEXT,
      state TEXT NOT NULL,
      linked INTEGER NOT NULL DEFAULT 0,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    )`,
    `CREATE UNIQUE INDEX rework_links_issue_idx ON rework_links (connection_id, issue_id)`,
    `CREATE INDEX rework_links_record_idx ON rework_links (record_id, state)`,
    `ALTER TABLE comment_links ADD COLUMN jira_issue_id TEXT`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
  // Rework tasks made before: the record's `rework` base listed them ([{ key, id, version }]).
  const rows = await sql<{ record_id: string; value: string; connection_id: string; issue_key: string | null }>`
    SELECT b.record_id, b.value, l.connection_id, l.issue_key
    FROM field_bases b JOIN links l ON l.record_id = b.record_id
    WHERE b.field = 'rework'`.execute(db);
  const t = Date.now();
  for (const r of rows.rows) {
    let tasks: Array<{ key?: unknown; id?: unknown; version?: unknown }> = [];
    try {
      const v = JSON.parse(r.value) as unknown;
      if (Array.isArray(v)) tasks = v as typeof tasks;
    } catch {
      continue;
    }
    for (const task of tasks) {
      if (typeof task.key !== 'string' || task.id === undefined) continue;
      await sql`
        INSERT INTO rework_links (token, record_id, connection_id, issue_id, issue_key, rework_of, state, linked, created_at, updated_at)
        VALUES (${`rework-${r.record_id}-${String(task.version)}`}, ${r.record_id}, ${r.connection_id}, ${String(task.id)},
                ${task.key}, ${r.issue_key}, 'open', 1, ${t}, ${t})
        ON CONFLICT DO NOTHING`.execute(db);
    }
  }
}
