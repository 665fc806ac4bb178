/**
 * Failure episodes of a record's sync (issue 19 item 7): when the host hears `record.sync_failed`
 * and `record.sync_recovered`. Pure.
 *
 * An episode starts with the first failed outbound attempt after a success and ends with the next
 * success. The host hears of it once — at once when the record is held (its connection or mapping
 * paused), waits on rejected credentials, or fails for good; after RETRY_REPORT_AFTER attempts in a
 * row for transient failures (a single 429 is not news) — and once more only when the cause changes
 * (another error code: there is something else to do). When a reported episode ends the host hears
 * `record.sync_recovered`. The episode is kept on the record's stored last error (`episode`).
 */

/** Transient failures in a row before the host is told. */
export const RETRY_REPORT_AFTER = 3;

/** How an attempt failed: held by a pause, waiting on credentials, retried, or failed for good. */
export type FailureKind = 'held' | 'paused' | 'retry' | 'failed';

export interface FailureEpisode {
  /** When the episode began (epoch ms). */
  since: number;
  /** Failed attempts in it so far. */
  failures: number;
  /** The error code the host was last told of (null: not told yet). */
  reported: string | null;
}

export interface StoredError {
  code: string;
  message: string;
  details?: unknown;
  episode?: FailureEpisode;
}

export interface FailureStep {
  episode: FailureEpisode;
  /** Emit `record.sync_failed` now. */
  report: boolean;
}

/** The episode after one more failed attempt, and whether the host is told now. */
export function failureStep(prev: StoredError | null, code: string, kind: FailureKind, at: number): FailureStep {
  const open = prev?.episode;
  const failures = (open?.failures ?? 0) + 1;
  const since = open?.since ?? at;
  const due = kind !== 'retry' || failures >= RETRY_REPORT_AFTER;
  const report = due && (open?.reported ?? null) !== code;
  return { episode: { since, failures, reported: report ? code : (open?.reported ?? null) }, report };
}

/** Does a success end an episode the host was told of (emit `record.sync_recovered`)? */
export function recovers(prev: StoredError | null): FailureEpisode | null {
  return prev?.episode && prev.episode.reported !== null ? prev.episode : null;
}

/** What the host should do about a failure, in words (carried on `record.sync_failed`). */
export function failureAdvice(code: string, kind: FailureKind, details?: unknown): string {
  const disabled = (details as { disabled?: string } | undefined)?.disabled;
  if (kind === 'held' && disabled) {
    const [what, id] = [disabled.slice(0, disabled.indexOf(':')), disabled.slice(disabled.indexOf(':') + 1)];
    return `Nothing is lost: the record is sent once the ${what} "${id}" is resumed (POST /api/v1/${what}s/${id}/resume, or enabled: true in its configuration).`;
  }
  if (kind === 'paused' || code === 'JIRA_UNAUTHORIZED' || code === 'JIRA_FORBIDDEN')
    return "Jira refused the connection's credentials or permissions: fix them (update the connection); waiting records are sent by themselves once it works.";
  if (kind === 'retry')
    return 'Nothing yet: jira-bridge keeps retrying; if it lasts, check that Jira is reachable and not rate limiting the connection.';
  return 'Jira refused the change: correct the record (upsert it again) or the mapping as the message says, then POST /api/v1/sync to retry.';
}
