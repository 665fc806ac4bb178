import type { Kysely } from 'kysely';
import { releaseLock, tryAcquireLock } from '../store/locks.js';
import type { Database } from '../store/schema.js';

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
