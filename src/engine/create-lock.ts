import type { Kysely } from 'kysely';
import { newId } from '../store/ids.js';
import { toJson } from '../store/json.js';
import { releaseLock, tryAcquireLock } from '../store/locks.js';
import type { Database } from '../store/schema.js';
import type { OutboundMapping } from './types.js';

/**
 * Creation of a record's issue is claimed with a named lease, so the per-record outbound job and
 * a backfill batch never create the same record's issue at the same moment (each would miss the
 * other's not-yet-searchable issue). The lease expires on its own if its holder dies.
 */
export const CREATE_LOCK_TTL_MS = 5 * 60_000;

export const createLockName = (recordId: string): string => `create:${recordId}`;

export function acquireCreateLock(db: Kysely<Database>, recordId: string, owner: string): Promise<boolean> {
  return tryAcquireLock(db, createLockName(recordId), owner, CREATE_LOCK_TTL_MS);
}

export function releaseCreateLock(db: Kysely<Database>, recordId: string, owner: string): Promise<void> {
  return releaseLock(db, createLockName(recordId), owner);
}

/**
 * Claims the record's issue for a create: its link row, 'creating', with a fresh create token,
 * committed before Jira is called so that a retry after a crash searches by the token and adopts
 * what the create made. A link the record already has is kept as it is (its token stands).
 */
export async function claimCreateLink(
  db: Kysely<Database>,
  recordId: string,
  mapping: OutboundMapping,
  t: number,
): Promise<void> {
  await db
    .insertInto('links')
    .values({
      record_id: recordId,
      connection_id: mapping.connectionId,
      issue_id: null,
      issue_key: null,
      project_key: mapping.projectKey,
      mapping_id: mapping.id,
      mapping_snapshot: toJson(mapping),
      create_token: newId(),
      state: 'creating',
      created_at: t,
      updated_at: t,
    })
    .onConflict((oc) => oc.column('record_id').doNothing())
    .execute();
}
