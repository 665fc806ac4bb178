import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Takes or renews the named lease for `owner` when it is free, expired or already ours.
 * Returns whether `owner` holds it now. One statement, safe across processes on both engines.
 */
export async function tryAcquireLock(
  db: Kysely<Database>,
  name: string,
  owner: string,
  ttlMs: number,
  now: number = Date.now(),
): Promise<boolean> {
  const expires = now + ttlMs;
  await db
    .insertInto('locks')
    .values({ name, owner, expires_at: expires })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ owner, expires_at: expires })
        .where((eb) => eb.or([eb('locks.expires_at', '<', now), eb('locks.owner', '=', owner)])),
    )
    .execute();
  const row = await db.selectFrom('locks').select(['owner', 'expires_at']).where('name', '=', name).executeTakeFirst();
  return row?.owner === owner && row.expires_at === expires;
}

export async function releaseLock(db: Kysely<Database>, name: string, owner: string): Promise<void> {
  await db.deleteFrom('locks').where('name', '=', name).where('owner', '=', owner).execute();
}
