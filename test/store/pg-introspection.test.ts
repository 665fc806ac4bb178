import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshPostgres, pgUnreachableReason, TEST_DATABASE_URL } from '../helpers/db.js';

const reason = await pgUnreachableReason();
if (reason !== null) console.warn(`\n*** PostgreSQL unreachable (${reason}): the introspection test is SKIPPED ***\n`);

/**
 * The migrator asks the dialect's introspector whether its tables exist. Kysely's own walks every
 * schema of the database and resolves each table by name, so another application's (or test's)
 * schema dropped meanwhile failed our start-up with 3F000 "schema … does not exist" (seen in CI:
 * queue [postgres] "commits a record and its job together" while other suites dropped theirs).
 */
describe.skipIf(reason !== null)('PostgreSQL introspection sees only our own schema', () => {
  it("lists this schema's tables only: another schema's migration table does not count", async () => {
    const other = `other_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    const db = await freshPostgres({ migrate: false });
    try {
      await c.query(`create schema "${other}"; create table "${other}".kysely_migration (name text)`);
      expect(await db.store.db.introspection.getTables({ withInternalKyselyTables: true })).toEqual([]);
      await db.store.migrate();
      const tables = (await db.store.db.introspection.getTables()).map((t) => t.name);
      expect(tables).toContain('jobs');
      expect(tables).not.toContain('kysely_migration');
      const all = await db.store.db.introspection.getTables({ withInternalKyselyTables: true });
      expect(all.map((t) => t.name)).toContain('kysely_migration');
      expect(new Set(all.map((t) => t.schema))).toEqual(new Set([db.openOpts.schema]));
    } finally {
      await c.query(`drop schema if exists "${other}" cascade`);
      await c.end();
      await db.cleanup();
    }
  });

  it('migrates while other schemas are created and dropped all the time', async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    let churning = true;
    const churn = (async () => {
      while (churning) {
        const s = `churn_${randomBytes(4).toString('hex')}`;
        await c.query(`create schema "${s}"; create table "${s}".t (id serial primary key, v text)`);
        await c.query(`drop schema "${s}" cascade`);
      }
    })();
    try {
      for (let i = 0; i < 8; i++) {
        const db = await freshPostgres();
        await db.cleanup();
      }
    } finally {
      churning = false;
      await churn;
      await c.end();
    }
  }, 120_000);
});
