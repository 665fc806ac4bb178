import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueue } from '../../src/queue/index.js';
import { freshPostgres, pgUnreachableReason, TEST_DATABASE_URL, type TestDb } from '../helpers/db.js';

const reason = await pgUnreachableReason();
if (reason) console.warn(`*** PostgreSQL unreachable (${reason}): PostgreSQL locking tests SKIPPED ***`);

describe.skipIf(reason !== null)('queue on PostgreSQL: row locking', () => {
  const dbs: TestDb[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.cleanup();
  });

  it('a claim skips jobs another transaction has locked (SKIP LOCKED) instead of waiting, and keeps key order', async () => {
    const t = await freshPostgres();
    dbs.push(t);
    const queue = createQueue(t.store);
    const ids = await t.store.transaction(async (trx) => [
      (await queue.enqueue(trx, { kind: 'k', key: 'a' })).id,
      (await queue.enqueue(trx, { kind: 'k', key: 'a' })).id,
      (await queue.enqueue(trx, { kind: 'k', key: 'b' })).id,
    ]);
    // Another session holds the head of key "a" (as a concurrent claimer would, mid-claim).
    const other = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await other.connect();
    try {
      await other.query(`set search_path to "${(t.openOpts.schema ?? 'public').replace(/"/g, '')}"`);
      await other.query('begin');
      await other.query('select id from jobs where id = $1 for update', [ids[0]]);
      // Not blocked; a's head is skipped and a's second job is NOT taken in its place.
      const claimed = await queue.claim('w', 10, 5000);
      expect(claimed.map((j) => j.id)).toEqual([ids[2]]);
      await other.query('rollback');
      expect((await queue.claim('w', 10, 5000)).map((j) => j.id)).toEqual([ids[0]]);
    } finally {
      await other.end();
    }
  });
});
