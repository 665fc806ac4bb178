export interface BackoffOptions {
  /** Ceiling of the first retry's delay (default 1 s). */
  baseMs: number;
  /** Upper bound for any computed delay (default 10 min); an explicit retry-after may exceed it. */
  capMs: number;
  /** Random source in [0, 1); injectable for tests. */
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 10 * 60_000, random: Math.random };

/**
 * Delay before retrying after failed attempt number `attempt` (1-based): exponential backoff with
 * full jitter (uniform in [0, min(cap, base·2^(attempt-1))]), but never earlier than an explicit
 * retry-after from the failure (e.g. Jira's 429 Retry-After).
 */
export function retryDelayMs(attempt: number, opts: BackoffOptions, retryAfterMs?: number): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(opts.random() * ceiling);
  return retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > 0
    ? Math.max(Math.ceil(retryAfterMs), jittered)
    : jittered;
}
