/**
 * Replicas share one configuration: a connection, mapping or host webhook subscription saved through one replica's admin API
 * (or an OAuth connection connected through it) reaches every other replica. Each replica watches
 * a cheap fingerprint of the configuration rows — on PostgreSQL woken at once by a notification,
 * and polled as a fallback — and reloads when it changes. On SQLite there is one process per file:
 * the poll is all there is, and its own changes are applied already.
 */
import { sql, type Kysely } from 'kysely';
import type { Logger } from '../log/logger.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';

export const CONFIG_TOPIC = 'jira_bridge_config';

/**
 * Changes whenever a connection, a mapping, a host webhook subscription made through the API or an
 * OAuth grant's site changes (not on token refresh).
 */
export async function configFingerprint(db: Kysely<Database>): Promise<string> {
  const stamp = (r: { n: number; at: number | null } | undefined): string =>
    `${Number(r?.n ?? 0)}@${Number(r?.at ?? 0)}`;
  const countAndLast = [sql<number>`count(*)`.as('n'), sql<number | null>`max(updated_at)`.as('at')] as const;
  const part = async (table: 'connections' | 'mappings'): Promise<string> =>
    stamp(await db.selectFrom(table).select(countAndLast).executeTakeFirst());
  // Host webhook subscriptions made through the API (the file's are each replica's own).
  const hooks = stamp(
    await db.selectFrom('outbound_webhooks').select(countAndLast).where('source', '=', 'api').executeTakeFirst(),
  );
  const sites = await db
    .selectFrom('oauth_tokens')
    .select(['connection_id', 'cloud_id'])
    .orderBy('connection_id')
    .execute();
  return [
    await part('connections'),
    await part('mappings'),
    hooks,
    sites.map((s) => `${s.connection_id}=${s.cloud_id}`).join(','),
  ].join('|');
}

export interface ConfigSync {
  /** Compares the fingerprint now and reloads if it moved. */
  check(): Promise<boolean>;
  /** Tells the other replicas (PostgreSQL) that the configuration changed. */
  announce(): Promise<void>;
  stop(): Promise<void>;
}

export async function startConfigSync(o: {
  store: Store;
  reload: () => Promise<void>;
  intervalMs?: number;
  logger?: Logger;
}): Promise<ConfigSync> {
  let last = await configFingerprint(o.store.db);
  let running: Promise<boolean> | null = null;
  let again = false;
  const check = (): Promise<boolean> => {
    if (running) {
      again = true; // a change arrived while reloading: look once more afterwards
      return running;
    }
    running = (async () => {
      let changed = false;
      do {
        again = false;
        const now = await configFingerprint(o.store.db);
        if (now !== last) {
          last = now;
          changed = true;
          await o.reload();
          o.logger?.info('configuration changed in the store; reloaded');
        }
      } while (again);
      return changed;
    })().finally(() => {
      running = null;
    });
    return running;
  };
  const safeCheck = (): void => {
    check().catch((err: unknown) =>
      o.logger?.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'configuration reload failed; will retry',
      ),
    );
  };
  const timer = setInterval(safeCheck, o.intervalMs ?? 5_000);
  timer.unref();
  const unlisten = o.store.pubsub ? await o.store.pubsub.listen(CONFIG_TOPIC, safeCheck) : undefined;
  return {
    check,
    async announce() {
      await o.store.pubsub?.notify(o.store.db, CONFIG_TOPIC);
    },
    async stop() {
      clearInterval(timer);
      await unlisten?.();
      await running?.catch(() => undefined);
    },
  };
}
