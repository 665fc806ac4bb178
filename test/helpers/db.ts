import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';

export type Engine = 'sqlite' | 'postgres';

/** PostgreSQL for tests; override with TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDb {
  store: Store;
  engine: Engine;
  /** Options that open the same database again (another store, a child process). */
  openOpts: OpenStoreOptions;
  cleanup(): Promise<void>;
}

let pgProbe: Promise<string | null> | undefined;

/** Resolves to null when PostgreSQL answers, else the reason it does not. */
export function pgUnreachableReason(): Promise<string | null> {
  pgProbe ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return pgProbe;
}

/** A fresh, migrated SQLite store in its own temp directory (removed by cleanup). */
export async function freshSqlite(opts: { migrate?: boolean } = {}): Promise<TestDb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jb-store-'));
  const openOpts: OpenStoreOptions = { dataDir };
  const store = await openStore(openOpts);
  if (opts.migrate ?? true) await store.migrate();
  return {
    store,
    engine: 'sqlite',
    openOpts,
    async cleanup() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh, migrated PostgreSQL store in a unique schema (dropped by cleanup). */
export async function freshPostgres(opts: { migrate?: boolean } = {}): Promise<TestDb> {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const openOpts: OpenStoreOptions = { databaseUrl: TEST_DATABASE_URL, schema, poolMax: 8 };
  const store = await openStore(openOpts);
  if (opts.migrate ?? true) await store.migrate();
  return {
    store,
    engine: 'postgres',
    openOpts,
    async cleanup() {
      await store.close();
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface EngineSuite {
  engine: Engine;
  /** A fresh store for this engine; cleaned up after the suite. */
  fresh(opts?: { migrate?: boolean }): Promise<TestDb>;
}

const pgReason = await pgUnreachableReason();
let warned = false;

/**
 * Runs the same suite on SQLite and on PostgreSQL. The PostgreSQL half is skipped only when
 * PostgreSQL does not answer, and that is printed loudly.
 */
export function describeEachEngine(name: string, fn: (suite: EngineSuite) => void): void {
  if (pgReason !== null && !warned) {
    warned = true;
    console.warn(
      `\n*** PostgreSQL at ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//***@')} is unreachable (${pgReason}): ` +
        `the PostgreSQL half of the store/queue suites is SKIPPED. Start PostgreSQL to run it. ***\n`,
    );
  }
  for (const engine of ['sqlite', 'postgres'] as const) {
    const skip = engine === 'postgres' && pgReason !== null;
    describe.skipIf(skip)(`${name} [${engine}]`, () => {
      const open: TestDb[] = [];
      afterAll(async () => {
        for (const db of open.splice(0)) await db.cleanup();
      });
      fn({
        engine,
        async fresh(opts) {
          const db = engine === 'sqlite' ? await freshSqlite(opts) : await freshPostgres(opts);
          open.push(db);
          return db;
        },
      });
    });
  }
}
