import { Kysely, Migrator, sql } from 'kysely';
import { AppError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Dialect } from './dialect.js';
import { migrationProvider } from './migrations/index.js';
import { channelName, listenPostgres, openPostgres, type PostgresOpen } from './postgres.js';
import type { Database } from './schema.js';
import { openSqlite } from './sqlite.js';
import { registerTransaction, runHooks } from './transaction.js';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Applies pending migrations (in one transaction on both engines); returns the names applied. */
  migrate(): Promise<{ applied: string[] }>;
  /** Throws STORE_UNAVAILABLE when the database does not answer. */
  ping(): Promise<void>;
  migrationsPending(): Promise<boolean>;
  /**
   * Runs `fn` in a write transaction (BEGIN IMMEDIATE on SQLite). Use only `trx` inside `fn`:
   * on SQLite, `store.db` waits for the single connection the transaction holds (deadlock).
   * Commits when `fn` resolves, rolls back when it throws.
   */
  transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * PostgreSQL only: wake-ups across processes. `notify` inside a transaction is delivered at
   * commit; `listen` returns the unsubscribe. Absent on SQLite (one process per file).
   */
  pubsub?: PubSub;
}

export interface PubSub {
  notify(db: Kysely<Database>, topic: string): Promise<void>;
  listen(topic: string, fn: () => void): Promise<() => Promise<void>>;
}

export interface OpenStoreOptions {
  /** postgres://… selects PostgreSQL; absent selects the embedded SQLite store. */
  databaseUrl?: string;
  /** SQLite: the directory holding jira-bridge.db (default ./data, created if missing). */
  dataDir?: string;
  /** PostgreSQL: schema to use (search_path); also accepted as `?schema=` in the URL. */
  schema?: string;
  /** PostgreSQL pool size (default 10). */
  poolMax?: number;
  logger?: Logger;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (opts.databaseUrl) {
    const pgOpen = openPostgres({
      databaseUrl: opts.databaseUrl,
      ...(opts.schema !== undefined ? { schema: opts.schema } : {}),
      ...(opts.poolMax !== undefined ? { poolMax: opts.poolMax } : {}),
    });
    const db = new Kysely<Database>({ dialect: pgOpen.dialect });
    if (pgOpen.schema) {
      try {
        await sql`create schema if not exists ${sql.id(pgOpen.schema)}`.execute(db);
      } catch (err) {
        // Two processes creating the schema at once: the loser sees a duplicate; that is fine.
        const code = (err as { code?: string }).code;
        if (code !== '23505' && code !== '42P06') {
          await db.destroy();
          throw unavailable(err, 'postgres');
        }
      }
    }
    opts.logger?.info({ engine: 'postgres', schema: pgOpen.schema ?? 'public' }, 'store opened');
    return makeStore(db, 'postgres', pgOpen.schema ?? 'public', opts.logger, makePubSub(pgOpen, opts.logger));
  }
  const { dialect, file } = openSqlite({ dataDir: opts.dataDir ?? './data' });
  const db = new Kysely<Database>({ dialect });
  opts.logger?.info({ engine: 'sqlite', file }, 'store opened');
  return makeStore(db, 'sqlite', undefined, opts.logger);
}

function unavailable(err: unknown, engine: Dialect): AppError {
  const reason = err instanceof Error ? err.message : String(err);
  return new AppError('STORE_UNAVAILABLE', `The ${engine} store is unavailable: ${reason}`, { cause: err });
}

function makePubSub(pgOpen: PostgresOpen, logger?: Logger): PubSub {
  return {
    async notify(db, topic) {
      await sql`select pg_notify(${channelName(topic, pgOpen.schema)}, '')`.execute(db);
    },
    listen(topic, fn) {
      return listenPostgres(pgOpen, topic, fn, (err) =>
        logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'postgres LISTEN connection failed'),
      );
    },
  };
}

function makeStore(
  db: Kysely<Database>,
  dialect: Dialect,
  pgSchema: string | undefined,
  logger?: Logger,
  pubsub?: PubSub,
): Store {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    // Migrations are written in parallel and may land out of number order (e.g. 008 before 007);
    // each is independent of the others' tables, so a later-added earlier number is applied too.
    allowUnorderedMigrations: true,
    ...(pgSchema ? { migrationTableSchema: pgSchema } : {}),
  });
  let closed = false;
  return {
    db,
    dialect,
    ...(pubsub ? { pubsub } : {}),
    async migrate() {
      const { error, results } = await migrator.migrateToLatest();
      const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
      if (error) {
        const failed = (results ?? []).find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
        const reason = error instanceof Error ? error.message : String(error);
        throw new AppError('STORE_UNAVAILABLE', `Migration ${failed} failed: ${reason}`, {
          cause: error,
          retryable: false,
        });
      }
      if (applied.length) logger?.info({ applied }, 'migrations applied');
      return { applied };
    },
    async ping() {
      try {
        await sql`select 1`.execute(db);
      } catch (err) {
        throw unavailable(err, dialect);
      }
    },
    async migrationsPending() {
      const all = await migrator.getMigrations();
      return all.some((m) => m.executedAt === undefined);
    },
    async transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
      let hooks: Array<() => void> = [];
      const result = await db.transaction().execute(async (trx) => {
        hooks = registerTransaction(trx);
        return fn(trx);
      });
      runHooks(hooks);
      return result;
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
