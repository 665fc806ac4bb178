/**
 * The change feed: every record change the host should hear about, in one ordered table that a
 * host polls (`GET /api/v1/changes`) and the outbound webhook dispatcher tails.
 *
 * No gaps, no repeats: a reader that saw sequence n must never later see a smaller one commit.
 * SQLite has one writer, so commit order is sequence order. On PostgreSQL, sequence values are
 * taken at insert but transactions commit in any order, so every append first takes one
 * transaction-scoped advisory lock: appends serialise from the insert to the commit, and commit
 * order equals sequence order there too.
 */
import { sql, type Kysely } from 'kysely';
import { invalidField } from '../core/errors.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';

/** The advisory lock key of change-feed appends (an arbitrary constant: "jbfeed"). */
const FEED_LOCK = 0x6a62_6665;

export { CHANGE_EVENTS } from '../core/changes.js';

export interface ChangeInput {
  recordId: string;
  event: string;
  data: unknown;
  at: number;
}

export async function appendChange(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  c: ChangeInput,
): Promise<void> {
  if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`.execute(trx);
  await trx
    .insertInto('change_feed')
    .values({ record_id: c.recordId, event: c.event, data: toJson(c.data), at: c.at })
    .execute();
}

export interface ChangeView {
  seq: number;
  record_id: string;
  scope: string | null;
  host_id: string | null;
  kind: string | null;
  event: string;
  data: unknown;
  at: string;
}

export const encodeCursor = (seq: number): string => Buffer.from(`seq:${seq}`).toString('base64url');

export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^seq:(\d{1,15})$/.exec(text);
  if (!m) {
    throw invalidField(
      'querystring.after',
      'invalid cursor',
      'not a cursor this API issued; pass the next_cursor of the previous page, or omit it to start at the beginning',
    );
  }
  return Number(m[1]);
}

/** Changes after a sequence number, oldest first, with the record's host identity. */
export async function readChanges(
  db: Kysely<Database>,
  opts: { after: number; limit: number; scope?: string | undefined },
): Promise<{ changes: ChangeView[]; last: number }> {
  let q = db
    .selectFrom('change_feed as f')
    .leftJoin('records as r', 'r.id', 'f.record_id')
    .select(['f.seq', 'f.record_id', 'f.event', 'f.data', 'f.at', 'r.scope', 'r.host_id', 'r.kind'])
    .where('f.seq', '>', opts.after)
    .orderBy('f.seq')
    .limit(opts.limit);
  if (opts.scope !== undefined) q = q.where('r.scope', '=', opts.scope);
  const rows = await q.execute();
  return {
    changes: rows.map((r) => ({
      seq: Number(r.seq),
      record_id: r.record_id,
      scope: r.scope,
      host_id: r.host_id,
      kind: r.kind,
      event: r.event,
      data: fromJson(r.data),
      at: new Date(Number(r.at)).toISOString(),
    })),
    last: rows.length ? Number(rows[rows.length - 1]!.seq) : opts.after,
  };
}

export async function latestSeq(db: Kysely<Database>): Promise<number> {
  const r = await db
    .selectFrom('change_feed')
    .select((eb) => eb.fn.max('seq').as('m'))
    .executeTakeFirst();
  return Number(r?.m ?? 0);
}
