/**
 * Signed outbound webhooks to the host, one ordered stream per subscription, tailing the change
 * feed. Each event is delivered with a stable `webhook-id` (`<subscription>_<seq>`: a retry
 * carries the same id, so the host can deduplicate) and retried with exponential backoff until
 * the host answers 2xx; later events wait behind it, so the host sees them in order and none is
 * dropped. The cursor is stored (table `sweeps`, name `host-webhook:<id>`) only after a delivery
 * is acknowledged: a restart resends at most the one in flight. One dispatcher per subscription
 * across replicas (a renewable lease in `locks`). Every attempt is kept in
 * `outbound_webhook_deliveries` for the console.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { fromJson, toJson } from '../store/json.js';
import { releaseLock, tryAcquireLock } from '../store/locks.js';
import type { Store } from '../store/store.js';
import { latestSeq, readChanges, type ChangeView } from './feed.js';
import { signedHeaders } from './sign.js';

export interface HostSubscription {
  url: string;
  secret: string;
  /** Event names (`record.updated`, …) or `*`. */
  events: string[];
}

export interface DispatcherOptions {
  store: Store;
  subscriptions: HostSubscription[];
  logger?: Logger | undefined;
  /** Lease owner name of this process. */
  owner: string;
  /** How often an idle stream looks for new changes (default 500 ms). */
  pollMs?: number;
  /** Backoff after a failed attempt: base and cap (default 1 s → 5 min). */
  backoff?: { baseMs: number; capMs: number };
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  now?: () => number;
}

/** A subscription's stable id: from its URL, so reordering the config keeps cursors. */
export const subscriptionId = (url: string): string =>
  `hw_${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;

export function matches(events: string[], event: string): boolean {
  return events.includes('*') || events.includes(event);
}

export function payloadOf(c: ChangeView): { type: string; timestamp: string; data: Record<string, unknown> } {
  const data = c.data && typeof c.data === 'object' ? (c.data as Record<string, unknown>) : {};
  return {
    type: c.event,
    timestamp: c.at,
    data: {
      record: { id: c.record_id, scope: c.scope, host_id: c.host_id, kind: c.kind },
      seq: c.seq,
      ...data,
    },
  };
}

export function startHostWebhooks(opts: DispatcherOptions): { stop(): Promise<void>; kick(): void } {
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 500;
  const backoff = opts.backoff ?? { baseMs: 1000, capMs: 300_000 };
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let stopped = false;
  /** Sleepers: all wake on stop; only idle polls (`kickable`) wake on kick(), never a backoff. */
  const wakers = new Map<() => void, boolean>();
  const sleep = (ms: number, kickable = false): Promise<void> =>
    new Promise((resolve) => {
      if (stopped) return resolve();
      const done = (): void => {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      wakers.set(done, kickable);
    });

  async function loadCursor(name: string): Promise<number> {
    const row = await opts.store.db.selectFrom('sweeps').select('cursor').where('name', '=', name).executeTakeFirst();
    const c = fromJson<{ seq: number }>(row?.cursor ?? null);
    if (c) return c.seq;
    // A new subscription starts at the present: it is not flooded with history.
    const seq = await latestSeq(opts.store.db);
    await saveCursor(name, seq);
    return seq;
  }

  async function saveCursor(name: string, seq: number): Promise<void> {
    const cursor = toJson({ seq });
    await opts.store.db
      .insertInto('sweeps')
      .values({ name, cursor, last_started_at: null, last_finished_at: now(), last_error: null })
      .onConflict((oc) => oc.column('name').doUpdateSet({ cursor, last_finished_at: now(), last_error: null }))
      .execute();
  }

  async function recordAttempt(
    id: string,
    subId: string,
    c: ChangeView,
    body: string,
    result: { status: number | null; error: string | null; delivered: boolean },
  ): Promise<void> {
    const t = now();
    const set = {
      status: result.delivered ? 'delivered' : 'pending',
      response_status: result.status,
      last_error: result.error === null ? null : toJson({ message: result.error, at: t }),
      delivered_at: result.delivered ? t : null,
    };
    await opts.store.db
      .insertInto('outbound_webhook_deliveries')
      .values({ id, webhook_id: subId, event: c.event, payload: body, attempts: 1, created_at: t, ...set })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({ ...set, attempts: eb('outbound_webhook_deliveries.attempts', '+', 1) })),
      )
      .execute();
  }

  async function deliver(sub: HostSubscription, subId: string, c: ChangeView): Promise<boolean> {
    const id = `${subId}_${c.seq}`;
    const body = JSON.stringify(payloadOf(c));
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(sub.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedHeaders(sub.secret, id, new Date(now()), body) },
        body,
        // A redirect is not an acknowledgement, and following one would hand the signed event
        // (headers included) to another address.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined); // the answer's body is not needed
      if (res.status < 200 || res.status >= 300)
        error =
          res.status >= 300 && res.status < 400
            ? `the host answered ${res.status} (a redirect): configure the final URL`
            : `the host answered ${res.status}`;
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const delivered = error === null;
    await recordAttempt(id, subId, c, body, { status, error, delivered });
    return delivered;
  }

  /** The subscription as the delivery log refers to it (its secret stays in the configuration). */
  async function register(sub: HostSubscription, subId: string): Promise<void> {
    const t = now();
    await opts.store.db
      .insertInto('outbound_webhooks')
      .values({
        id: subId,
        url: sub.url,
        events: toJson(sub.events),
        secret_enc: null,
        active: 1,
        created_at: t,
        updated_at: t,
      })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ url: sub.url, events: toJson(sub.events), active: 1, updated_at: t }),
      )
      .execute();
  }

  async function stream(sub: HostSubscription): Promise<void> {
    const subId = subscriptionId(sub.url);
    const lock = `host-webhook:${subId}`;
    const log = opts.logger?.child({ subscription: subId });
    try {
      await register(sub, subId);
      await run(sub, subId, lock, log);
    } finally {
      await releaseLock(opts.store.db, lock, opts.owner).catch(() => undefined);
    }
  }

  async function run(sub: HostSubscription, subId: string, lock: string, log: Logger | undefined): Promise<void> {
    tail: while (!stopped) {
      try {
        if (!(await tryAcquireLock(opts.store.db, lock, opts.owner, 30_000, now()))) {
          await sleep(pollMs * 4);
          continue;
        }
        let cursor = await loadCursor(lock);
        const { changes } = await readChanges(opts.store.db, { after: cursor, limit: 100 });
        if (!changes.length) {
          await sleep(pollMs, true);
          continue;
        }
        for (const c of changes) {
          if (stopped) return;
          if (matches(sub.events, c.event)) {
            let attempt = 0;
            while (!(await deliver(sub, subId, c))) {
              if (stopped) return;
              const wait = Math.min(backoff.capMs, backoff.baseMs * 2 ** attempt++);
              log?.warn({ seq: c.seq, attempt, retryInMs: wait }, 'host webhook not acknowledged; will retry');
              // Another replica took the lease (this one stalled): it owns the stream now.
              if (!(await tryAcquireLock(opts.store.db, lock, opts.owner, 30_000 + wait, now()))) continue tail;
              await sleep(wait);
              if (stopped) return;
            }
          }
          if (!(await tryAcquireLock(opts.store.db, lock, opts.owner, 30_000, now()))) continue tail;
          cursor = c.seq;
          await saveCursor(lock, cursor);
        }
      } catch (err) {
        log?.error({ err: err instanceof Error ? err.message : String(err) }, 'host webhook stream failed; retrying');
        await sleep(backoff.baseMs);
      }
    }
  }

  const running = opts.subscriptions.map((s) => stream(s));
  return {
    kick() {
      for (const [w, kickable] of [...wakers]) if (kickable) w();
    },
    async stop() {
      stopped = true;
      for (const w of [...wakers.keys()]) w();
      await Promise.allSettled(running);
    },
  };
}
