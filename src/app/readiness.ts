import type { Readiness, ReadinessCheck } from '../http/routes/system.js';
import type { Store } from '../store/store.js';

/**
 * Ready when the store answers, its migrations are all applied and the service is not shutting
 * down. Each check reports on its own so a 503 says which one failed.
 */
export function storeReadiness(store: Store, opts: { shuttingDown?: () => boolean } = {}): Readiness {
  return async () => {
    const checks: Record<string, ReadinessCheck> = {};
    try {
      await store.ping();
      checks.store = { ok: true, detail: store.dialect };
    } catch (err) {
      checks.store = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    if (checks.store.ok) {
      try {
        const pending = await store.migrationsPending();
        checks.migrations = pending
          ? { ok: false, detail: 'migrations are pending; run `jira-bridge migrate` or restart the service' }
          : { ok: true };
      } catch (err) {
        checks.migrations = { ok: false, detail: err instanceof Error ? err.message : String(err) };
      }
    } else {
      checks.migrations = { ok: false, detail: 'unknown: the store is unavailable' };
    }
    if (opts.shuttingDown?.()) checks.shutdown = { ok: false, detail: 'the service is shutting down' };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };
}
