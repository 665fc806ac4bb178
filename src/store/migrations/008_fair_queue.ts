import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * Fair claiming across connections (issue 17): every job belongs to a partition (the connection
 * and mapping it works for; '' for system jobs) and carries a start tag of start-time fair
 * queuing (`fair_seq`, see src/queue/queue.ts). Claims scan queued rows in (fair_seq, id) order
 * instead of id order, so a deep backlog of one partition interleaves with every other
 * partition's work instead of standing in front of it.
 *
 * Indexes: the claim order and the virtual time (smallest due tag) come from one index — on
 * PostgreSQL partial over queued rows (the shape the queue already used: done/dead history stays
 * out of it; a composite with state leading measured half as fast there), on SQLite (state,
 * fair_seq, id), the only shape its planner picks over (state, id) without a sort; a
 * partition's last tag, read by each enqueue, from (partition, fair_seq). The id-ordered queued
 * index it replaces is no longer read by anything.
 */
export function statements(dialect: Dialect): string[] {
  return [
    `ALTER TABLE jobs ADD COLUMN "partition" TEXT NOT NULL DEFAULT ''`,
    `ALTER TABLE jobs ADD COLUMN fair_seq BIGINT NOT NULL DEFAULT 0`,
    // Jobs already queued keep their order (tags = ids); new tags continue from there.
    `UPDATE jobs SET fair_seq = id`,
    dialect === 'postgres'
      ? `CREATE INDEX jobs_fair_idx ON jobs (fair_seq, id) WHERE state = 'queued'`
      : // SQLite's planner (no statistics) prefers jobs_state_idx (state, id) plus a sort of every
        // queued row over a partial index; with state leading, the claim is one ordered scan.
        `CREATE INDEX jobs_fair_idx ON jobs (state, fair_seq, id)`,
    `CREATE INDEX jobs_partition_seq_idx ON jobs ("partition", fair_seq)`,
    `DROP INDEX jobs_queued_idx`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
