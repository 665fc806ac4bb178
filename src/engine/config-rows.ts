import type { Kysely } from 'kysely';
import { toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { MappingSource, OutboundMapping } from './types.js';

/**
 * Links refer to a connection row and a mapping row. The configuration is their source; this
 * makes sure both rows exist before a link is written (insert-if-absent, never overwriting).
 */
export async function ensureConfigRows(
  db: Kysely<Database>,
  mappings: MappingSource,
  mapping: OutboundMapping,
  t: number,
): Promise<void> {
  const conn = mappings.connection(mapping.connectionId);
  await db
    .insertInto('connections')
    .values({
      id: mapping.connectionId,
      name: conn?.name ?? mapping.connectionId,
      flavour: conn?.flavour ?? 'cloud',
      site_url: conn?.siteUrl ?? '',
      config: '{}',
      secrets_enc: null,
      created_at: t,
      updated_at: t,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
  await db
    .insertInto('mappings')
    .values({
      id: mapping.id,
      connection_id: mapping.connectionId,
      host_scope: mapping.scope,
      config: toJson(mapping),
      version: 1,
      created_at: t,
      updated_at: t,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
}
