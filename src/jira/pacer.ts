/**
 * Per-connection pacing for Jira calls. One Pacer is shared by every job that uses a connection,
 * so a 429 pauses the whole connection (not one job) until Jira's reset, and later calls are
 * metered from what Jira tells us on every response:
 *
 * - `Retry-After` (seconds or an HTTP date) and `X-RateLimit-Reset` (ISO date) on a 429 or a 503
 *   pause the connection until that moment;
 * - `X-RateLimit-Limit` / `X-RateLimit-Remaining` feed a local token bucket: the bucket's size is
 *   the observed limit, its level is re-synchronised with the remaining count on every response,
 *   and its refill rate is estimated from how the remaining count grows between observations;
 * - a concurrency cap bounds the calls in flight (and so the calls that can be wasted when the
 *   limit is hit while they are in flight).
 *
 * Time comes from an injectable clock and sleep so tests are deterministic.
 *
 * A queued job's calls do not wait long on a connection without budget (issue 17): inside
 * `withPutBack` (the engine runs its job handlers so), a call that would wait for a pause (429 /
 * Retry-After) or longer than the limit (1 s) throws JOB_PUT_BACK before it is sent, and the
 * queue worker returns the job to the queue until then, no attempt spent, so no worker slot is
 * held by a storm. Calls outside a job (admin checks, the catalogue, sweeps) wait as before.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { AppError, putBackDelayMs } from '../core/errors.js';

/** The longest a queued job's call waits on its pacer before the job is put back instead. */
export const PUT_BACK_AFTER_MS = 1000;

export interface PacerOptions {
  /** Calls in flight at once on this connection (default 4). */
  concurrency?: number;
  /** Pause used when Jira answers 429 with no usable Retry-After/Reset (default 1000 ms). */
  defaultPauseMs?: number;
  /** Upper bound of any single pause (default 60 s): a broken header must not stop a connection for hours. */
  maxPauseMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface AcquireOptions {
  /**
   * Instead of waiting for a pause (429 / Retry-After) or longer than this for a token, throw
   * JOB_PUT_BACK (retryAfterMs: when the budget returns) without taking a slot: the caller's job
   * goes back to the queue (see withPutBack). Waits for a call slot (calls in flight) are not
   * limited: they end when those answers come. Default: wait as long as it takes.
   */
  maxWaitMs?: number | undefined;
  /**
   * Told true when the call starts waiting for its turn and false when the wait ends (sent or
   * thrown): a queued job's worker lets another job use the slot meanwhile (see withPutBack).
   */
  onWait?: ((waiting: boolean) => void) | undefined;
}

export interface PacerStats {
  /** Responses observed. */
  calls: number;
  /** Responses that were 429. */
  rateLimited: number;
  /** Calls spent without effect because of rate limiting (429s and 503s carrying Retry-After). */
  wasted: number;
  /** Times a call had to wait before starting. */
  waits: number;
  /** Total time callers spent waiting, in ms (by the pacer's clock). */
  waitedMs: number;
  /** Times the connection was paused by a 429/Retry-After. */
  pauses: number;
  /** Calls of queued jobs not sent because the connection had no budget: their jobs were put back. */
  putBacks: number;
  inFlight: number;
  /** Epoch ms until which the connection is paused (0 when not paused). */
  pausedUntil: number;
  /** What the pacer learnt from Jira's headers. */
  observedLimit: number | null;
  estimatedRefillPerSecond: number | null;
  lastReason: string | null;
}

export interface ObservedResponse {
  status: number;
  headers: { get(name: string): string | null };
}

/** Parses Retry-After: delta seconds or an HTTP date. Returns ms from `now`, or null. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}

/** Parses X-RateLimit-Reset: an ISO/HTTP date, or epoch seconds. Returns ms from `now`, or null. */
export function parseReset(value: string | null | undefined, now: number): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    // epoch seconds (≥ year 2001) or, if small, delta seconds
    return n > 1e9 ? Math.max(0, n * 1000 - now) : n * 1000;
  }
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}

/** How long a token estimate stays trusted without an answer carrying rate-limit headers. */
const STALE_ESTIMATE_MS = 10_000;

const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref?.();
  });

export class Pacer {
  private readonly concurrency: number;
  private readonly defaultPauseMs: number;
  private readonly maxPauseMs: number;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  private inFlight = 0;
  private pausedUntil = 0;
  private readonly queue: object[] = [];
  private wake: (() => void) | null = null;
  private wakePromise: Promise<void> | null = null;

  // token bucket learnt from headers
  private limit: number | null = null;
  private remainingAt: { remaining: number; at: number; startedSince: number } | null = null;
  private refillPerSecond: number | null = null;
  private lastReason: string | null = null;

  private readonly counters = { calls: 0, rateLimited: 0, wasted: 0, waits: 0, waitedMs: 0, pauses: 0, putBacks: 0 };

  constructor(opts: PacerOptions = {}) {
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.defaultPauseMs = opts.defaultPauseMs ?? 1000;
    this.maxPauseMs = opts.maxPauseMs ?? 60_000;
    this.clock = opts.clock ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** Tokens we believe Jira still grants now, or null when Jira sent no rate-limit headers. */
  private estimatedTokens(now: number): number | null {
    if (!this.remainingAt) return null;
    // An estimate Jira has not confirmed for a while (only header-less answers, e.g. 401s) is
    // dropped: the next answer with headers (or a 429) teaches the bucket again.
    if (now - this.remainingAt.at > STALE_ESTIMATE_MS) return null;
    const { remaining, at, startedSince } = this.remainingAt;
    const refill = this.refillPerSecond ? ((now - at) / 1000) * this.refillPerSecond : 0;
    const cap = this.limit ?? Number.POSITIVE_INFINITY;
    return Math.min(cap, remaining + refill) - startedSince;
  }

  /** ms to wait before the next call may start (0 = now, Infinity = until a call in flight returns). */
  private waitMs(now: number): number {
    if (this.pausedUntil > now) return this.pausedUntil - now;
    if (this.inFlight >= this.concurrency) return Number.POSITIVE_INFINITY;
    const tokens = this.estimatedTokens(now);
    if (tokens === null || tokens >= 1) return 0;
    // Out of tokens by our estimate. With calls in flight, their responses refresh the estimate;
    // with none, wait for the estimated refill (or let a single probe through when we cannot tell).
    if (this.inFlight > 0) return Number.POSITIVE_INFINITY;
    if (!this.refillPerSecond) return 0;
    return Math.max(1, Math.ceil(((1 - tokens) / this.refillPerSecond) * 1000));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    this.wakePromise = null;
    w?.();
  }

  private changed(): Promise<void> {
    this.wakePromise ??= new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    return this.wakePromise;
  }

  /**
   * Waits for this connection's turn; returns the release function to call when the response is in.
   * With `maxWaitMs`, throws JOB_PUT_BACK rather than wait for a pause or longer than that.
   */
  async acquire(opts: AcquireOptions = {}): Promise<() => void> {
    const ticket = {};
    this.queue.push(ticket);
    const start = this.clock();
    let waited = false;
    try {
      await this.#waitTurn(ticket, opts, () => {
        if (!waited) opts.onWait?.(true);
        waited = true;
      });
    } finally {
      if (waited) opts.onWait?.(false);
    }
    this.queue.shift();
    this.inFlight++;
    if (this.remainingAt) this.remainingAt.startedSince++;
    if (waited) {
      this.counters.waits++;
      this.counters.waitedMs += Math.max(0, this.clock() - start);
    }
    this.notify();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.notify();
    };
  }

  /** Returns when `ticket` may call (at the queue's head, budget there); throws JOB_PUT_BACK per `opts`. */
  async #waitTurn(ticket: object, opts: AcquireOptions, waiting: () => void): Promise<void> {
    for (;;) {
      const now = this.clock();
      const w = this.queue[0] === ticket ? this.waitMs(now) : Number.POSITIVE_INFINITY;
      if (w === 0) break;
      if (opts.maxWaitMs !== undefined) {
        // Behind other callers the wait is unknown, but a pause holds them all.
        const paused = this.pausedUntil > now;
        const known = paused ? this.pausedUntil - now : w;
        if (paused || (Number.isFinite(known) && known > opts.maxWaitMs)) {
          this.queue.splice(this.queue.indexOf(ticket), 1);
          this.counters.putBacks++;
          this.notify();
          throw new AppError(
            'JOB_PUT_BACK',
            `The Jira connection has no call budget for ${known} ms (${paused ? 'paused by a 429 / Retry-After' : 'out of rate-limit tokens'}): the job goes back to the queue until then; the call was not sent`,
            { retryAfterMs: known, details: { waitMs: known, paused } },
          );
        }
      }
      waiting();
      // Waits are re-evaluated at least every second (the estimate may have gone stale).
      await (Number.isFinite(w) ? Promise.race([this.sleep(Math.min(w, 1000)), this.changed()]) : this.changed());
    }
  }

  /** Learns from one response's status and headers. Call it before releasing the slot. */
  observe(res: ObservedResponse): void {
    const now = this.clock();
    this.counters.calls++;
    const h = res.headers;
    const reason = h.get('ratelimit-reason');
    if (reason) this.lastReason = reason;

    const limit = Number(h.get('x-ratelimit-limit'));
    if (Number.isFinite(limit) && limit > 0 && h.get('x-ratelimit-limit') !== null) this.limit = limit;
    const remRaw = h.get('x-ratelimit-remaining');
    // An answer without rate-limit headers (an auth failure, a proxy error) tells nothing about the
    // bucket: its call no longer counts as spending a token, or such answers would pile up into a
    // phantom deficit that stalls the connection.
    if (remRaw === null && this.remainingAt && this.remainingAt.startedSince > 0) this.remainingAt.startedSince--;
    if (remRaw !== null && Number.isFinite(Number(remRaw))) {
      const remaining = Number(remRaw);
      const prev = this.remainingAt;
      if (prev && now - prev.at >= 20) {
        // Every call started since the previous observation consumed one token (or this one did).
        const gained = remaining - prev.remaining + Math.max(1, prev.startedSince);
        const sample = gained / ((now - prev.at) / 1000);
        if (sample > 0 && Number.isFinite(sample)) {
          this.refillPerSecond = this.refillPerSecond === null ? sample : this.refillPerSecond * 0.7 + sample * 0.3;
        }
      }
      // Calls still in flight were started before this response was produced or after; count them
      // as spent so the next decisions stay on the safe side.
      this.remainingAt = { remaining, at: now, startedSince: Math.max(0, this.inFlight - 1) };
    }

    const rateLimited = res.status === 429;
    const retryAfter = parseRetryAfter(h.get('retry-after'), now);
    if (rateLimited) {
      this.counters.rateLimited++;
      this.counters.wasted++;
    } else if (res.status === 503 && retryAfter !== null) {
      this.counters.wasted++;
    }
    if (rateLimited || (res.status === 503 && retryAfter !== null)) {
      const reset = parseReset(h.get('x-ratelimit-reset'), now);
      const pause = Math.min(this.maxPauseMs, Math.max(retryAfter ?? 0, reset ?? 0) || this.defaultPauseMs);
      if (now + pause > this.pausedUntil) {
        this.pausedUntil = now + pause;
        this.counters.pauses++;
      }
      // A rate-limited site's bucket is empty now; without a refill estimate, assume one token per pause.
      if (rateLimited && this.limit !== null) {
        this.remainingAt = { remaining: 0, at: now, startedSince: Math.max(0, this.inFlight - 1) };
        if (this.refillPerSecond === null && pause > 0) this.refillPerSecond = 1000 / pause;
      }
    } else if (remRaw === '0') {
      const reset = parseReset(h.get('x-ratelimit-reset'), now);
      if (reset !== null && reset > 0)
        this.pausedUntil = Math.max(this.pausedUntil, now + Math.min(this.maxPauseMs, reset));
    }
    this.notify();
  }

  /**
   * ms until one more job of this connection may start without waiting on this pacer, when
   * `running` of its jobs already run in this process (0: now; Infinity: when one of them ends).
   * No budget: paused (429 / Retry-After), every call slot held by a running job, or (on a site
   * that sends rate-limit headers) no token left for it once the running jobs not calling right
   * now have theirs. Workers ask before claiming, so they never sit on the pacer (issue 17).
   */
  admitWaitMs(running: number): number {
    const now = this.clock();
    if (this.pausedUntil > now) return this.pausedUntil - now;
    if (running >= this.concurrency) return Number.POSITIVE_INFINITY;
    const tokens = this.estimatedTokens(now);
    if (tokens === null) return 0;
    // Running jobs between calls will spend a token each on their next call.
    const owed = Math.max(0, running - this.inFlight) + this.queue.length;
    const left = tokens - owed;
    if (left >= 1) return 0;
    if (this.refillPerSecond) return Math.max(1, Math.ceil(((1 - left) / this.refillPerSecond) * 1000));
    // No refill estimate: let one probe through when nothing of ours is running or calling.
    return running > 0 || this.inFlight > 0 ? Number.POSITIVE_INFINITY : 0;
  }

  /** ms until the connection may call again (0 when not paused). */
  pausedForMs(): number {
    return Math.max(0, this.pausedUntil - this.clock());
  }

  stats(): PacerStats {
    return {
      ...this.counters,
      inFlight: this.inFlight,
      pausedUntil: this.pausedUntil > this.clock() ? this.pausedUntil : 0,
      observedLimit: this.limit,
      estimatedRefillPerSecond: this.refillPerSecond,
      lastReason: this.lastReason,
    };
  }
}

interface PutBackScope {
  maxWaitMs: number;
  park?: ((parked: boolean) => void) | undefined;
}
const putBackScope = new AsyncLocalStorage<PutBackScope>();

/**
 * Runs `fn` — a job handler run by the queue worker, which puts a job back on JOB_PUT_BACK — so
 * that its Jira calls never sit on a connection without budget: a call that would wait for a 429 /
 * Retry-After pause, or longer than `maxWaitMs` for a token, throws JOB_PUT_BACK before it is
 * sent (crash-equivalent: the journal makes the re-run verify what was done and continue). A
 * shorter wait for a token is waited out, told to `park` (the worker's JobContext.park), as is a
 * call Jira has not answered within PARK_SLOW_CALL_MS (./transport.ts): the job holds no worker
 * slot while it waits, so the worker runs another connection's job meanwhile.
 */
export function withPutBack<T>(
  fn: () => Promise<T>,
  opts: { maxWaitMs?: number; park?: ((parked: boolean) => void) | undefined } = {},
): Promise<T> {
  return putBackScope.run({ maxWaitMs: opts.maxWaitMs ?? PUT_BACK_AFTER_MS, park: opts.park }, fn);
}

/** The put-back limit of the running job (see withPutBack); undefined outside one (calls wait). */
export function putBackWaitLimit(): number | undefined {
  return putBackScope.getStore()?.maxWaitMs;
}

/** How a call of the running job waits for its pacer (see withPutBack): acquire's options. */
export function putBackAcquireOptions(): AcquireOptions {
  const scope = putBackScope.getStore();
  return scope ? { maxWaitMs: scope.maxWaitMs, onWait: scope.park } : {};
}

/**
 * True when `err` put back a call this caller, outside any queued job, only joined: a shared
 * in-flight call (a cache's fetch) that a job started. The caller makes the call again itself,
 * and then waits for the budget as calls outside jobs do.
 */
export function putBackOfAnother(err: unknown): boolean {
  return putBackWaitLimit() === undefined && putBackDelayMs(err) !== null;
}

/**
 * One pacer per key, shared by every client built for that connection in this process. The client
 * uses `${connectionId}@${apiBase}` as the key; options apply only when the pacer is first made.
 */
const registry = new Map<string, Pacer>();
/** The same pacers by connection id (the key before '@'): a connection's look-up stays O(1) among thousands. */
const byConnection = new Map<string, Map<string, Pacer>>();
const connectionOfKey = (key: string): string => {
  const at = key.indexOf('@');
  return at < 0 ? key : key.slice(0, at);
};

export function pacerFor(key: string, opts?: PacerOptions): Pacer {
  let p = registry.get(key);
  if (!p) {
    p = new Pacer(opts);
    registry.set(key, p);
    const id = connectionOfKey(key);
    let m = byConnection.get(id);
    if (!m) byConnection.set(id, (m = new Map()));
    m.set(key, p);
  }
  return p;
}

/**
 * ms until connection `key` may call Jira again (0 when not paused): the longest pause of its
 * pacers in this process (key `key` or `key@…`). Workers check it before running a job of the
 * connection, so a 429 storm defers that connection's jobs instead of holding workers.
 */
export function pausedForMs(key: string): number {
  let ms = 0;
  for (const p of pacersOf(key)) ms = Math.max(ms, p.pausedForMs());
  return ms;
}

/**
 * ms until one more job of connection `key` may start without waiting on its pacers in this
 * process (key `key` or `key@…`), `running` of its jobs running here: the longest of their
 * Pacer.admitWaitMs (0 when none has been made yet: nothing has limited it).
 */
export function admitWaitMs(key: string, running: number): number {
  let ms = 0;
  for (const p of pacersOf(key)) ms = Math.max(ms, p.admitWaitMs(running));
  return ms;
}

function pacersOf(key: string): Pacer[] {
  const at = key.indexOf('@');
  const id = at < 0 ? key : key.slice(0, at);
  const out: Pacer[] = [];
  for (const [k, p] of byConnection.get(id) ?? []) if (at < 0 || k === key) out.push(p);
  return out;
}

/** Forgets pacers whose key is `key` or starts with `key@` (connection deleted or changed). */
export function dropPacer(key: string): void {
  for (const k of [...registry.keys()])
    if (k === key || k.startsWith(`${key}@`)) {
      registry.delete(k);
      byConnection.get(connectionOfKey(k))?.delete(k);
      if (byConnection.get(connectionOfKey(k))?.size === 0) byConnection.delete(connectionOfKey(k));
    }
}
