/**
 * The console dashboard's time series, kept in memory by this process: sync volume by direction,
 * job latency (p50/p99), failures, Jira calls and 429s, queue depth. Events go into 10-second
 * buckets kept for an hour (at most 360 buckets, each with a capped latency sample), so recording
 * is O(1) and a snapshot is a walk over at most 360 buckets: cheap enough to poll. Prometheus
 * (`/metrics`) stays the place for long-term history; this is what the console draws.
 */

/** The job outcomes the worker reports (same values as metrics' JobOutcome). */
export type StatsJobOutcome = 'done' | 'retry' | 'dead' | 'lost' | 'deferred';

export const BUCKET_MS = 10_000;
export const RETENTION_MS = 60 * 60_000;
/** Latency samples kept per bucket (reservoir sampling beyond that). */
const SAMPLE_CAP = 200;

interface Bucket {
  toJira: number;
  fromJira: number;
  otherDone: number;
  retries: number;
  dead: number;
  durations: number[];
  seen: number;
  jiraCalls: number;
  jira429: number;
  jiraErrors: number;
  queued: number | null;
  running: number | null;
  deadJobs: number | null;
}

const emptyBucket = (): Bucket => ({
  toJira: 0,
  fromJira: 0,
  otherDone: 0,
  retries: 0,
  dead: 0,
  durations: [],
  seen: 0,
  jiraCalls: 0,
  jira429: 0,
  jiraErrors: 0,
  queued: null,
  running: null,
  deadJobs: null,
});

/** One point of every series (counts are totals over the step; depth is the last sample in it). */
export interface StatsPoint {
  /** Start of the step (ISO 8601). */
  t: string;
  sync_to_jira: number;
  sync_from_jira: number;
  /** Job attempts that failed (will retry) and jobs that gave up. */
  job_retries: number;
  job_failures: number;
  /** Job attempt latency in ms (null when no job ran in the step). */
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  jira_calls: number;
  jira_429: number;
  /** Jira answers 5xx, timeouts and network failures. */
  jira_errors: number;
  queue_queued: number | null;
  queue_running: number | null;
  queue_dead: number | null;
}

export interface StatsSnapshot {
  now: string;
  step_seconds: number;
  window_minutes: number;
  points: StatsPoint[];
  totals: {
    sync_to_jira: number;
    sync_from_jira: number;
    job_failures: number;
    jira_calls: number;
    jira_429: number;
    latency_p50_ms: number | null;
    latency_p99_ms: number | null;
  };
  /** Since when this process has been counting (series are empty before). */
  since: string;
}

export interface StatsRecorder {
  /** A finished job attempt (kinds `outbound.*` count as to Jira, `inbound.*` as from Jira). */
  job(kind: string, outcome: StatsJobOutcome, durationMs?: number): void;
  /** A call to Jira: its HTTP status, or `network`/`timeout`/0 when none came. */
  jiraCall(status: number | string): void;
  /** A queue depth sample. */
  queue(byState: Partial<Record<string, number>>): void;
  snapshot(opts?: { windowMinutes?: number; stepSeconds?: number }): StatsSnapshot;
}

/** Percentile of sorted values (nearest rank). */
export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function createStatsRecorder(opts: { now?: () => number; random?: () => number } = {}): StatsRecorder {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const buckets = new Map<number, Bucket>();
  const since = now();

  const bucket = (): Bucket => {
    const k = Math.floor(now() / BUCKET_MS);
    let b = buckets.get(k);
    if (!b) {
      b = emptyBucket();
      buckets.set(k, b);
      const oldest = k - RETENTION_MS / BUCKET_MS;
      for (const key of buckets.keys()) if (key < oldest) buckets.delete(key);
    }
    return b;
  };

  const addSample = (b: Bucket, ms: number): void => {
    b.seen++;
    if (b.durations.length < SAMPLE_CAP) b.durations.push(ms);
    else {
      const j = Math.floor(random() * b.seen);
      if (j < SAMPLE_CAP) b.durations[j] = ms;
    }
  };

  return {
    job(kind, outcome, durationMs) {
      // Put back until its connection has budget: neither a failure nor a finished job.
      if (outcome === 'deferred') return;
      const b = bucket();
      if (durationMs !== undefined && Number.isFinite(durationMs)) addSample(b, durationMs);
      if (outcome === 'done') {
        if (kind.startsWith('outbound')) b.toJira++;
        else if (kind.startsWith('inbound')) b.fromJira++;
        else b.otherDone++;
      } else if (outcome === 'dead') b.dead++;
      else b.retries++;
    },
    jiraCall(status) {
      const b = bucket();
      b.jiraCalls++;
      const n = typeof status === 'number' ? status : Number.NaN;
      if (n === 429) b.jira429++;
      else if (!(n > 0) || n >= 500) b.jiraErrors++;
    },
    queue(byState) {
      const b = bucket();
      b.queued = byState.queued ?? 0;
      b.running = byState.running ?? 0;
      b.deadJobs = byState.dead ?? 0;
    },
    snapshot(o = {}) {
      const windowMinutes = Math.min(60, Math.max(1, Math.round(o.windowMinutes ?? 30)));
      const stepBuckets = Math.max(1, Math.round((o.stepSeconds ?? 60) / (BUCKET_MS / 1000)));
      const stepMs = stepBuckets * BUCKET_MS;
      const t = now();
      const endKey = Math.floor(t / BUCKET_MS);
      // Steps aligned to the step size, the last one holding the current bucket.
      const lastStart = Math.floor(endKey / stepBuckets) * stepBuckets;
      const steps = Math.max(1, Math.ceil((windowMinutes * 60_000) / stepMs));
      const points: StatsPoint[] = [];
      const all: number[] = [];
      const totals = { sync_to_jira: 0, sync_from_jira: 0, job_failures: 0, jira_calls: 0, jira_429: 0 };
      for (let s = steps - 1; s >= 0; s--) {
        const first = lastStart - s * stepBuckets;
        const p: StatsPoint = {
          t: new Date(first * BUCKET_MS).toISOString(),
          sync_to_jira: 0,
          sync_from_jira: 0,
          job_retries: 0,
          job_failures: 0,
          latency_p50_ms: null,
          latency_p99_ms: null,
          jira_calls: 0,
          jira_429: 0,
          jira_errors: 0,
          queue_queued: null,
          queue_running: null,
          queue_dead: null,
        };
        const durations: number[] = [];
        for (let k = first; k < first + stepBuckets; k++) {
          const b = buckets.get(k);
          if (!b) continue;
          p.sync_to_jira += b.toJira;
          p.sync_from_jira += b.fromJira;
          p.job_retries += b.retries;
          p.job_failures += b.dead;
          p.jira_calls += b.jiraCalls;
          p.jira_429 += b.jira429;
          p.jira_errors += b.jiraErrors;
          if (b.queued !== null) {
            p.queue_queued = b.queued;
            p.queue_running = b.running;
            p.queue_dead = b.deadJobs;
          }
          durations.push(...b.durations);
        }
        durations.sort((a, b) => a - b);
        p.latency_p50_ms = percentile(durations, 50);
        p.latency_p99_ms = percentile(durations, 99);
        all.push(...durations);
        totals.sync_to_jira += p.sync_to_jira;
        totals.sync_from_jira += p.sync_from_jira;
        totals.job_failures += p.job_failures;
        totals.jira_calls += p.jira_calls;
        totals.jira_429 += p.jira_429;
        points.push(p);
      }
      all.sort((a, b) => a - b);
      return {
        now: new Date(t).toISOString(),
        step_seconds: stepMs / 1000,
        window_minutes: windowMinutes,
        points,
        totals: { ...totals, latency_p50_ms: percentile(all, 50), latency_p99_ms: percentile(all, 99) },
        since: new Date(since).toISOString(),
      };
    },
  };
}
