/**
 * The one way a sync job (outbound or inbound) writes what it did and what both sides agree on:
 *  - the sync log row (`sync_log`: direction, action, fields, jira_calls, job, error),
 *  - the host's change-feed event (`change_feed`, its data stamped with the side it came from:
 *    origin 'host' for outbound, 'jira' for inbound),
 *  - the agreed bases of a record (`field_bases`: one row per field, value = JSON, origin as above).
 *
 * Every write takes the connection or transaction it goes through (`db`), so callers keep their
 * transactions as they are.
 */
import type { Kysely } from 'kysely';
import { appendChange } from '../host/feed.js';
import { newId } from '../store/ids.js';
import { fromJson, toJson } from '../store/json.js';
import type { Dialect } from '../store/dialect.js';
import type { Database } from '../store/schema.js';

/** Which job writes: outbound (record → issue, origin 'host') or inbound (issue → record, origin 'jira'). */
export type SyncDirection = 'outbound' | 'inbound';

export interface SyncWritesDeps {
  dialect: Dialect;
  direction: SyncDirection;
  now: () => number;
}

export interface SyncWrites {
  /** The origin this side stamps on bases and feed events ('host' outbound, 'jira' inbound). */
  readonly origin: 'host' | 'jira';
  /** One `sync_log` row of this direction (record null: a run no record is known for yet). */
  log(
    db: Kysely<Database>,
    recordId: string | null,
    action: string,
    calls: number,
    jobId: number | null,
    extra?: { fields?: unknown; error?: unknown },
  ): Promise<void>;
  /** One change-feed event for the host, its data with `origin` first. */
  feed(db: Kysely<Database>, recordId: string, event: string, data: unknown): Promise<void>;
  /** Stores agreed bases (field → value), each inserted or replaced; one timestamp for all. */
  writeBases(db: Kysely<Database>, recordId: string, values: ReadonlyMap<string, unknown>): Promise<void>;
  /** Stores one agreed base. */
  writeBase(db: Kysely<Database>, recordId: string, field: string, value: unknown): Promise<void>;
  /** The record's agreed bases (field → value). */
  loadBases(db: Kysely<Database>, recordId: string): Promise<Map<string, unknown>>;
}

export function createSyncWrites(deps: SyncWritesDeps): SyncWrites {
  const { dialect, direction, now } = deps;
  const origin = direction === 'outbound' ? 'host' : 'jira';

  async function upsertBase(db: Kysely<Database>, recordId: string, field: string, value: unknown, t: number) {
    await db
      .insertInto('field_bases')
      .values({ record_id: recordId, field, value: toJson(value), origin, updated_at: t })
      .onConflict((oc) =>
        oc.columns(['record_id', 'field']).doUpdateSet({ value: toJson(value), origin, updated_at: t }),
      )
      .execute();
  }

  return {
    origin,
    async log(db, recordId, action, calls, jobId, extra = {}) {
      await db
        .insertInto('sync_log')
        .values({
          id: newId(),
          record_id: recordId,
          direction,
          action,
          fields: extra.fields === undefined ? null : toJson(extra.fields),
          jira_calls: calls,
          job_id: jobId,
          error: extra.error === undefined ? null : toJson(extra.error),
          at: now(),
        })
        .execute();
    },
    async feed(db, recordId, event, data) {
      await appendChange(db, dialect, { recordId, event, data: { origin, ...(data as object) }, at: now() });
    },
    async writeBases(db, recordId, values) {
      const t = now();
      for (const [field, value] of values) await upsertBase(db, recordId, field, value, t);
    },
    async writeBase(db, recordId, field, value) {
      await upsertBase(db, recordId, field, value, now());
    },
    async loadBases(db, recordId) {
      const rows = await db
        .selectFrom('field_bases')
        .select(['field', 'value'])
        .where('record_id', '=', recordId)
        .execute();
      return new Map(rows.map((r) => [r.field, fromJson(r.value)]));
    },
  };
}
