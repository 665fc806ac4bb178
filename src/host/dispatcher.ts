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
  /** Stable id; default `subscriptionId(url)` (the configuration file's subscriptions). */
  id?: string;
  /**
   * 'api': made through the admin API, whose row in `outbound_webhooks` (with the sealed secret)
   * the admin service owns; 'file' (default): registered here for the delivery log.
   */
  source?: 'file' | 'api';
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

export interface HostWebhooks {
  stop(): Promise<void>;
  kick(): void;
  /**
   * Replaces the set of subscriptions, live: new ones start streaming, removed ones stop (their
   * in-flight attempt finishes first), changed ones (same id: URL, events or secret) take the
   * change on their next attempt. Resolves once removed streams have stopped.
   */
  set(subscriptions: HostSubscription[]): Promise<void>;
}

/** One subscription's ordered stream. */
interface Stream {
  id: string;
  sub: HostSubscription;
  stopped: boolean;
  /** Its sleepers: all wake on stop; only idle polls (`kickable`) wake on kick(), never a backoff. */
  wakers: Map<() => void, boolean>;
  done: Promise<void>;
}

export function startHostWebhooks(opts: DispatcherOptions): HostWebhooks {
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 500;
  const backoff = opts.backoff ?? { baseMs: 1000, capMs: 300_000 };
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const streams = new Map<string, Stream>();
  const sleep = (s: Stream, ms: number, kickable = false): Promise<void> =>
    new Promise((resolve) => {
      if (s.stopped) return resolve();
      const done = (): void => {
        clearTimeout(t);
        s.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      s.wakers.set(done, kickable);
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

  async function deliver(s: Stream, c: ChangeView): Promise<boolean> {
    const { sub, id: subId } = s;
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

  async function stream(s: Stream): Promise<void> {
    const lock = `host-webhook:${s.id}`;
    const log = opts.logger?.child({ subscription: s.id });
    try {
      if (s.sub.source !== 'api') await register(s.sub, s.id);
      await run(s, lock, log);
    } finally {
      await releaseLock(opts.store.db, lock, opts.owner).catch(() => undefined);
    }
  }

  async function run(s: Stream, lock: string, log: Logger | undefined): Promise<void> {
    tail: while (!s.stopped) {
      try {
        if (!(await tryAcquireLock(opts.store.db, lock, opts.owner, 30_000, now()))) {
          await sleep(s, pollMs * 4);
          continue;
        }
        let cursor = await loadCursor(lock);
        const { changes } = await readChanges(opts.store.db, { after: cursor, limit: 100 });
        if (!changes.length) {
          await sleep(s, pollMs, true);
          continue;
        }
        for (const c of changes) {
          if (s.stopped) return;
          if (matches(s.sub.events, c.event)) {
            let attempt = 0;
            while (!(await deliver(s, c))) {
              if (s.stopped) return;
              const wait = Math.min(backoff.capMs, backoff.baseMs * 2 ** attempt++);
              log?.warn({ seq: c.seq, attempt, retryInMs: wait }, 'host webhook not acknowledged; will retry');
              // Another replica took the lease (this one stalled): it owns the stream now.
              if (!(await tryAcquireLock(opts.store.db, lock, opts.owner, 30_000 + wait, now()))) continue tail;
              await sleep(s, wait);
              if (s.stopped) return;
            }
          }
          if (!(await tryAcquireLock(opts.store.db, lock, opts.owner, 30_000, now()))) continue tail;
          cursor = c.seq;
          await saveCursor(lock, cursor);
        }
      } catch (err) {
        log?.error({ err: err instanceof Error ? err.message : String(err) }, 'host webhook stream failed; retrying');
        await sleep(s, backoff.baseMs);
      }
    }
  }

  const idOf = (sub: HostSubscription): string => sub.id ?? subscriptionId(sub.url);
  function begin(sub: HostSubscription): void {
    const s: Stream = { id: idOf(sub), sub, stopped: false, wakers: new Map(), done: Promise.resolve() };
    s.done = stream(s);
    streams.set(s.id, s);
  }
  async function end(s: Stream): Promise<void> {
    s.stopped = true;
    for (const w of [...s.wakers.keys()]) w();
    streams.delete(s.id);
    await s.done.catch(() => undefined);
  }
  let closed = false;

  for (const sub of opts.subscriptions) begin(sub);
  return {
    kick() {
      for (const s of streams.values()) for (const [w, kickable] of [...s.wakers]) if (kickable) w();
    },
    async set(subscriptions) {
      if (closed) return;
      const wanted = new Map(subscriptions.map((sub) => [idOf(sub), sub]));
      const ending: Array<Promise<void>> = [];
      for (const s of [...streams.values()]) {
        const next = wanted.get(s.id);
        if (!next) ending.push(end(s));
        else s.sub = next; // read on the next attempt: new URL, events or secret
      }
      for (const [id, sub] of wanted) if (!streams.has(id)) begin(sub);
      await Promise.all(ending);
    },
    async stop() {
      closed = true;
      await Promise.all([...streams.values()].map((s) => end(s)));
    },
  };
}
