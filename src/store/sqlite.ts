import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';

export const SQLITE_FILE = 'jira-bridge.db';

/**
 * kysely's SQLite driver opens transactions with a plain (deferred) BEGIN: a transaction that
 * reads first and writes later must then upgrade its lock, and when another process holds the
 * write lock that upgrade fails at once with SQLITE_BUSY (busy_timeout does not apply). Taking
 * the write lock up front with BEGIN IMMEDIATE makes the wait happen at BEGIN, where
 * busy_timeout does apply. In-process, the driver's single connection is behind a mutex, so
 * transactions of one process are already serialised.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** SQLite supports transactional DDL; saying so makes kysely's Migrator run in one transaction. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

export interface SqliteOpen {
  dialect: SqliteDialect;
  file: string;
}

/** Opens (creating if needed) `<dataDir>/jira-bridge.db` in WAL mode, durable on commit. */
export function openSqlite(opts: { dataDir: string; busyTimeoutMs?: number }): SqliteOpen {
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, SQLITE_FILE);
  const db = new BetterSqlite3(file, { timeout: opts.busyTimeoutMs ?? 5000 });
  db.pragma('journal_mode = WAL');
  // FULL: the WAL is fsynced at every commit, so a committed change survives power loss.
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
  db.pragma('foreign_keys = ON');
  return { dialect: new ImmediateSqliteDialect({ database: db }), file };
}
