import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * Inbound sync (Jira → host): the Jira `updated` time last applied per link (the sweep skips
 * issues that are not newer), when the host last changed each field of a record (conflicts are
 * decided per field: newest change wins), JSM comment visibility on record comments, and the index the
 * inbound job uses to find the unapplied deliveries of one issue.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `ALTER TABLE links ADD COLUMN jira_updated BIGINT`,
    `ALTER TABLE records ADD COLUMN field_times TEXT`,
    `ALTER TABLE record_comments ADD COLUMN internal INTEGER NOT NULL DEFAULT 0`,
    `CREATE INDEX webhook_deliveries_issue_idx ON webhook_deliveries (connection_id, issue_id, verdict)`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
