import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../dialect.js';
import * as m001 from './001_initial.js';
import * as m002 from './002_inbound.js';
import * as m003 from './003_oauth.js';
import * as m004 from './004_inbound_attachments.js';
import * as m005 from './005_security.js';
import * as m006 from './006_host_delivery_index.js';
import * as m007 from './007_sync_journal.js';
import * as m008 from './008_fair_queue.js';
import * as m009 from './009_rework_links.js';
import * as m010 from './010_apply_runs.js';

interface DialectMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
  down?(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Every migration, in order. Append only: never edit a migration that has shipped. */
const MIGRATIONS: Record<string, DialectMigration> = {
  '001_initial': m001,
  '002_inbound': m002,
  '003_oauth': m003,
  '004_inbound_attachments': m004,
  '005_security': m005,
  '006_host_delivery_index': m006,
  '007_sync_journal': m007,
  '008_fair_queue': m008,
  '009_rework_links': m009,
  '010_apply_runs': m010,
};

/** In-code provider for kysely's Migrator (no directory scanning, works from any cwd). */
export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(MIGRATIONS)) {
        const down = m.down;
        out[name] = {
          up: (db) => m.up(db, dialect),
          ...(down ? { down: (db: Kysely<unknown>) => down(db, dialect) } : {}),
        };
      }
      return out;
    },
  };
}

export const MIGRATION_NAMES = Object.keys(MIGRATIONS);
