import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * A subscription's delivery attempts are read newest first (the console's host webhook screen,
 * `GET /api/v1/host-webhooks/deliveries?subscription=`): an index instead of a full scan.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `CREATE INDEX outbound_webhook_deliveries_hook_created_idx ON outbound_webhook_deliveries (webhook_id, created_at)`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
