/**
 * Slows down guessing: a caller key whose attempts keep failing authentication is answered 429
 * for the rest of the window before any signature or token work is done. The webhook intake keys
 * on (connection, client address), sign-in on the client address; behind a load balancer the
 * address is the forwarded one (`server.trust_proxy`), else every caller would share the
 * balancer's. Attempts that authenticate never count, so Jira itself is not throttled by someone
 * else's failures unless they share its address and connection.
 */
export class RejectLimiter {
  readonly #hits = new Map<string, { count: number; since: number }>();
  constructor(
    private readonly limit = 30,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` may try again, or 0. */
  blockedFor(key: string): number {
    const h = this.#hits.get(key);
    if (!h) return 0;
    const age = this.now() - h.since;
    if (age >= this.windowMs) {
      this.#hits.delete(key);
      return 0;
    }
    return h.count >= this.limit ? this.windowMs - age : 0;
  }

  reject(key: string): void {
    const t = this.now();
    const h = this.#hits.get(key);
    if (!h || t - h.since >= this.windowMs) this.#hits.set(key, { count: 1, since: t });
    else h.count++;
    if (this.#hits.size > 10_000) {
      for (const [k, v] of this.#hits) if (t - v.since >= this.windowMs) this.#hits.delete(k);
    }
  }
}
