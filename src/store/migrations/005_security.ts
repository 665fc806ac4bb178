import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * Security additions, same SQL on both engines:
 *  - rejected webhook deliveries are kept as body-less rows (verdict `rejected:signature` /
 *    `rejected:token`) with the client address and how many more the same address sent to the
 *    same connection within the row's window (`repeats`), so the console can show an operator
 *    that Jira signs with the wrong secret;
 *  - host-webhook subscriptions can be created through the admin API: `source` tells them from
 *    the configuration file's ('file'), `description` is the admin's note.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `ALTER TABLE webhook_deliveries ADD COLUMN source_address TEXT`,
    `ALTER TABLE webhook_deliveries ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0`,
    `CREATE INDEX webhook_deliveries_conn_received_idx ON webhook_deliveries (connection_id, received_at)`,
    `ALTER TABLE outbound_webhooks ADD COLUMN source TEXT NOT NULL DEFAULT 'file'`,
    `ALTER TABLE outbound_webhooks ADD COLUMN description TEXT`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
