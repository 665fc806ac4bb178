/**
 * Writes a record's failed sync attempt (last error, state) and its success, with the failure
 * episode the host hears of (`record.sync_failed` once per episode and cause, `record.sync_recovered`
 * when a reported one ends): the rules are src/core/sync-failure.ts; this is their store side, run
 * inside the caller's transaction.
 */
import type { Kysely } from 'kysely';
import { failureAdvice, failureStep, recovers, type FailureKind, type StoredError } from '../core/sync-failure.js';
import { appendChange } from '../host/feed.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database, SyncState } from '../store/schema.js';

export async function recordSyncFailure(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  recordId: string,
  error: { code: string; message: string; details?: unknown },
  kind: FailureKind,
  at: number,
  state?: SyncState,
): Promise<void> {
  const prev = await trx.selectFrom('records').select('last_error').where('id', '=', recordId).executeTakeFirst();
  const step = failureStep(fromJson<StoredError>(prev?.last_error ?? null), error.code, kind, at);
  await trx
    .updateTable('records')
    .set({ last_error: toJson({ ...error, episode: step.episode }), ...(state ? { sync_state: state } : {}) })
    .where('id', '=', recordId)
    .execute();
  if (!step.report) return;
  await appendChange(trx, dialect, {
    recordId,
    event: 'record.sync_failed',
    data: {
      origin: 'host',
      code: error.code,
      message: error.message,
      ...(error.details !== undefined ? { details: error.details } : {}),
      state: state ?? 'pending',
      retrying: kind !== 'failed',
      since: new Date(step.episode.since).toISOString(),
      attempts: step.episode.failures,
      action: failureAdvice(error.code, kind, error.details),
    },
    at,
  });
}

/**
 * A success: marks the record synced (only at the version the job synced) and, when that ends an
 * episode the host was told of, appends `record.sync_recovered`. True when the record was updated.
 */
export async function recordSyncSuccess(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  recordId: string,
  version: number,
  at: number,
): Promise<boolean> {
  const prev = await trx.selectFrom('records').select('last_error').where('id', '=', recordId).executeTakeFirst();
  const r = await trx
    .updateTable('records')
    .set({ sync_state: 'synced', last_error: null })
    .where('id', '=', recordId)
    .where('version', '=', version)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return false;
  const stored = fromJson<StoredError>(prev?.last_error ?? null);
  const ended = recovers(stored);
  if (ended) {
    await appendChange(trx, dialect, {
      recordId,
      event: 'record.sync_recovered',
      data: {
        origin: 'host',
        failed_since: new Date(ended.since).toISOString(),
        failed_attempts: ended.failures,
        last_error: { code: stored!.code, message: stored!.message },
      },
      at,
    });
  }
  return true;
}
