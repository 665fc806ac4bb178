import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * Attachments from Jira (Jira → host): the MIME type Jira gave, a visible note when an attachment
 * was recorded but not downloaded (over the mapping's size cap), and an index to find the record
 * of a Jira attachment id (an `attachment_deleted` delivery names no issue). Same SQL on both
 * engines.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `ALTER TABLE attachment_links ADD COLUMN mime_type TEXT`,
    `ALTER TABLE attachment_links ADD COLUMN note TEXT`,
    `CREATE INDEX attachment_links_jira_idx ON attachment_links (jira_attachment_id)`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
