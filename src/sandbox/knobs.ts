/**
 * Realism knobs: latency, rate limits (token buckets, Cloud-style 429 headers), a per-issue write
 * limit, injected 5xx and forced 401. Deterministic: randomness comes from a seeded PRNG and time
 * from an injectable clock.
 */
import { prng } from './prng.js';

export interface BucketConfig {
  /** Bucket size (burst). */
  capacity: number;
  /** Tokens added per second; 0 means the bucket never refills until reset. */
  refillPerSecond: number;
}

export interface SandboxKnobs {
  /** Fixed delay added to every REST response, in ms. */
  latencyMs: number;
  /** Extra uniformly random delay in [0, jitterMs). */
  jitterMs: number;
  /** Site-wide burst limit (RateLimit-Reason: jira-burst-based); null = unlimited. */
  rateLimit: BucketConfig | null;
  /** Writes per issue (RateLimit-Reason: jira-per-issue-on-write); null = unlimited. */
  perIssueWriteLimit: BucketConfig | null;
  /** Probability in [0, 1] that a REST call answers with `errorStatus`. */
  errorRate: number;
  errorStatus: 500 | 502 | 503 | 504;
  /** Every REST call answers 401 as if the credentials had expired. */
  expiredAuth: boolean;
  /** PRNG seed for jitter and injected errors. */
  seed: number;
}

export const DEFAULT_KNOBS: SandboxKnobs = {
  latencyMs: 0,
  jitterMs: 0,
  rateLimit: null,
  perIssueWriteLimit: null,
  errorRate: 0,
  errorStatus: 503,
  expiredAuth: false,
  seed: 1,
};

class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly cfg: BucketConfig,
    now: number,
  ) {
    this.tokens = cfg.capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (this.cfg.refillPerSecond > 0) {
      this.tokens = Math.min(this.cfg.capacity, this.tokens + ((now - this.last) / 1000) * this.cfg.refillPerSecond);
    }
    this.last = now;
  }

  take(now: number): { ok: boolean; remaining: number; retryAfterSec: number } {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, remaining: Math.floor(this.tokens), retryAfterSec: 0 };
    }
    const wait = this.cfg.refillPerSecond > 0 ? (1 - this.tokens) / this.cfg.refillPerSecond : 60;
    return { ok: false, remaining: 0, retryAfterSec: Math.max(1, Math.ceil(wait)) };
  }
}

export interface RateDecision {
  ok: boolean;
  headers: Record<string, string>;
}

export class SandboxKnobsController {
  private knobs: SandboxKnobs;
  private random: () => number;
  private siteBucket: TokenBucket | null = null;
  private readonly issueBuckets = new Map<string, TokenBucket>();

  constructor(
    initial: Partial<SandboxKnobs> = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.knobs = { ...DEFAULT_KNOBS, ...initial };
    this.random = prng(this.knobs.seed);
  }

  get(): SandboxKnobs {
    return structuredClone(this.knobs);
  }

  /** Changes some knobs; buckets and the PRNG restart so behaviour after a change is deterministic. */
  set(patch: Partial<SandboxKnobs>): SandboxKnobs {
    const next = { ...this.knobs, ...patch };
    validateKnobs(next);
    this.knobs = next;
    this.resetRuntime();
    return this.get();
  }

  reset(): SandboxKnobs {
    this.knobs = { ...DEFAULT_KNOBS };
    this.resetRuntime();
    return this.get();
  }

  private resetRuntime(): void {
    this.random = prng(this.knobs.seed);
    this.siteBucket = null;
    this.issueBuckets.clear();
  }

  /** Delay to apply to this call, in ms. */
  delayMs(): number {
    const { latencyMs, jitterMs } = this.knobs;
    return latencyMs + (jitterMs > 0 ? Math.floor(this.random() * jitterMs) : 0);
  }

  /** Whether this call should fail with an injected server error (and which status). */
  injectedError(): number | null {
    if (this.knobs.errorRate <= 0) return null;
    return this.random() < this.knobs.errorRate ? this.knobs.errorStatus : null;
  }

  expiredAuth(): boolean {
    return this.knobs.expiredAuth;
  }

  /** Site-wide burst bucket. */
  takeSite(): RateDecision {
    const cfg = this.knobs.rateLimit;
    if (!cfg) return { ok: true, headers: {} };
    const now = this.clock();
    this.siteBucket ??= new TokenBucket(cfg, now);
    return this.decide(cfg, this.siteBucket.take(now), 'jira-burst-based', now);
  }

  /** Per-issue write bucket. */
  takeIssueWrite(issueId: string): RateDecision {
    const cfg = this.knobs.perIssueWriteLimit;
    if (!cfg) return { ok: true, headers: {} };
    const now = this.clock();
    let bucket = this.issueBuckets.get(issueId);
    if (!bucket) {
      bucket = new TokenBucket(cfg, now);
      this.issueBuckets.set(issueId, bucket);
    }
    return this.decide(cfg, bucket.take(now), 'jira-per-issue-on-write', now);
  }

  private decide(
    cfg: BucketConfig,
    r: { ok: boolean; remaining: number; retryAfterSec: number },
    reason: string,
    now: number,
  ): RateDecision {
    const headers: Record<string, string> = {
      'X-RateLimit-Limit': String(cfg.capacity),
      'X-RateLimit-Remaining': String(r.remaining),
      'X-RateLimit-NearLimit': String(r.remaining < Math.max(1, cfg.capacity * 0.2)),
    };
    if (!r.ok) {
      headers['Retry-After'] = String(r.retryAfterSec);
      headers['X-RateLimit-Reset'] = new Date(now + r.retryAfterSec * 1000).toISOString();
      headers['RateLimit-Reason'] = reason;
    }
    return { ok: r.ok, headers };
  }
}

/** Throws a descriptive error when a knob is out of range. */
export function validateKnobs(k: SandboxKnobs): void {
  const bad = (field: string, why: string): never => {
    throw new RangeError(`knob ${field} ${why}`);
  };
  if (!Number.isFinite(k.latencyMs) || k.latencyMs < 0) bad('latencyMs', 'must be a number >= 0');
  if (!Number.isFinite(k.jitterMs) || k.jitterMs < 0) bad('jitterMs', 'must be a number >= 0');
  if (!(k.errorRate >= 0 && k.errorRate <= 1)) bad('errorRate', 'must be between 0 and 1');
  if (![500, 502, 503, 504].includes(k.errorStatus)) bad('errorStatus', 'must be 500, 502, 503 or 504');
  for (const [name, b] of [
    ['rateLimit', k.rateLimit],
    ['perIssueWriteLimit', k.perIssueWriteLimit],
  ] as const) {
    if (b === null) continue;
    if (!Number.isInteger(b.capacity) || b.capacity < 1) bad(`${name}.capacity`, 'must be an integer >= 1');
    if (!Number.isFinite(b.refillPerSecond) || b.refillPerSecond < 0)
      bad(`${name}.refillPerSecond`, 'must be a number >= 0');
  }
  if (!Number.isInteger(k.seed)) bad('seed', 'must be an integer');
}
