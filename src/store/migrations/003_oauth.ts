import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * OAuth 2.0 (3LO) for Jira Cloud: the tokens of each connection (sealed under the master key,
 * with a version for compare-and-swap so replicas refreshing at once cannot lose a rotated
 * refresh token), and the pending authorization requests (the `state` of each, hashed, with an
 * expiry; single use). Same SQL on both engines.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `CREATE TABLE oauth_tokens (
      connection_id TEXT PRIMARY KEY,
      access_enc TEXT NOT NULL,
      refresh_enc TEXT,
      expires_at BIGINT NOT NULL,
      cloud_id TEXT NOT NULL,
      site_url TEXT NOT NULL,
      scope TEXT NOT NULL DEFAULT '',
      version INTEGER NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    )`,
    `CREATE TABLE oauth_states (
      state_hash TEXT PRIMARY KEY,
      connection_id TEXT NOT NULL,
      redirect_uri TEXT NOT NULL,
      actor TEXT NOT NULL,
      expires_at BIGINT NOT NULL,
      created_at BIGINT NOT NULL
    )`,
    `CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at)`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
