import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueStats } from '../queue/types.js';

/** Outcome of one job attempt, as the worker reports it. */
export type JobOutcome = 'done' | 'retry' | 'dead' | 'lost' | 'deferred';

export interface JiraCallSample {
  /** Templated path, e.g. `/rest/api/3/issue/{id}` (see jiraEndpointLabel). Never a raw URL. */
  endpoint: string;
  method: string;
  /** HTTP status, or `network` / `timeout` when no response came. */
  status: number | string;
  durationMs?: number;
  /** The connection that made the call (per-connection calls and 429s). */
  connection?: string;
}

/** Jira calls and 429s of one connection since this process started. */
export interface ConnectionCalls {
  connection: string;
  calls: number;
  r429: number;
}

/** How many connections /metrics names; the rest are summed as `*other*`. */
export const TOP_CONNECTIONS = 20;

/**
 * The label of system jobs' partition (no connection) in the per-partition queue series: starred
 * like `*other*`, so no connection id (letters, digits, `-`, `_`) can take it.
 */
export const SYSTEM_PARTITION_LABEL = '*system*';

/**
 * The top `limit` connections by `by` — calls, or 429s for the rate-limited series, so a
 * connection with many 429s and few calls is named rather than hidden in `*other*` — (ties by
 * calls, then id) and, when there are more, one `*other*` row summing the rest: a label set
 * bounded however many customers there are (pure).
 */
export function topConnections(
  all: readonly ConnectionCalls[],
  limit = TOP_CONNECTIONS,
  by: 'calls' | 'r429' = 'calls',
): ConnectionCalls[] {
  const sorted = [...all].sort((a, b) => b[by] - a[by] || b.calls - a.calls || (a.connection < b.connection ? -1 : 1));
  if (sorted.length <= limit) return sorted;
  const rest = sorted.slice(limit);
  return [
    ...sorted.slice(0, limit),
    {
      connection: '*other*',
      calls: rest.reduce((n, r) => n + r.calls, 0),
      r429: rest.reduce((n, r) => n + r.r429, 0),
    },
  ];
}

/**
 * The service's Prometheus instruments, in a registry of their own (one per service instance,
 * so tests and several in-process services do not collide). The HTTP layer, the worker, the
 * engine and the Jira client increment them; `/metrics` renders them.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly queueDepth: Gauge<'state'>;
  readonly queueOldestAge: Gauge<'state'>;
  readonly jobOutcomes: Counter<'kind' | 'outcome'>;
  readonly jobDuration: Histogram<'kind' | 'outcome'>;
  readonly jiraCalls: Counter<'endpoint' | 'method' | 'status'>;
  readonly jiraDuration: Histogram<'endpoint' | 'method'>;
  /** Where queue depth/age come from at scrape time (the queue's `stats()`). */
  setQueueStatsSource(fn: (() => Promise<QueueStats>) | undefined): void;
  recordHttp(method: string, route: string, status: number, durationMs: number): void;
  recordJobOutcome(kind: string, outcome: JobOutcome, durationMs?: number): void;
  recordJiraCall(sample: JiraCallSample): void;
  /** Every connection's Jira calls and 429s since start (GET /api/v1/stats). */
  connectionCalls(): ConnectionCalls[];
  /** Drops a deleted connection's calls and 429s (its series leave /metrics at the next scrape). */
  forgetConnection(connection: string): void;
  /** Prometheus text exposition. */
  render(): Promise<string>;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC); default true. */
  defaultMetrics?: boolean;
  queueStats?: () => Promise<QueueStats>;
  /** Metric name prefix; default `jira_bridge_`. */
  prefix?: string;
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const p = opts.prefix ?? 'jira_bridge_';
  let queueStats = opts.queueStats;
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: p });

  const httpRequests = new Counter({
    name: `${p}http_requests_total`,
    help: 'HTTP requests served, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: `${p}http_request_duration_seconds`,
    help: 'HTTP request duration, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  // Depth and age are read from the queue at scrape time: the database is the truth, and several
  // processes may share it (PostgreSQL), so in-process counting would be wrong.
  let lastStats: Promise<QueueStats | undefined> | undefined;
  const readStats = (): Promise<QueueStats | undefined> => {
    // One query per scrape even though two gauges collect.
    if (!lastStats) {
      lastStats = (queueStats ? queueStats() : Promise.resolve(undefined)).catch(() => undefined);
      setImmediate(() => (lastStats = undefined));
    }
    return lastStats;
  };
  const queueDepth = new Gauge({
    name: `${p}queue_jobs`,
    help: 'Jobs in the durable queue, by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const s = await readStats();
      if (!s) return;
      for (const [state, n] of Object.entries(s.byState)) this.set({ state }, n);
    },
  });
  const queueOldestAge = new Gauge({
    name: `${p}queue_oldest_job_age_seconds`,
    help: 'Age of the oldest job waiting in the queue, by state (0 when none)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const s = await readStats();
      if (!s) return;
      this.set({ state: 'queued' }, (s.oldestQueuedAgeMs ?? 0) / 1000);
    },
  });
  // Per partition (connection/mapping): the deepest 20 and '*other*', so the label set stays
  // bounded however many customers there are; series of partitions that left the top go away.
  new Gauge({
    name: `${p}queue_partition_jobs`,
    help: 'Queued jobs per partition (connection/mapping, *system* for system jobs; the 20 deepest, the rest as *other*), by readiness',
    labelNames: ['partition', 'ready'] as const,
    registers: [registry],
    async collect() {
      const s = await readStats();
      if (!s) return;
      this.reset();
      for (const d of s.partitions ?? []) {
        const partition = d.partition || SYSTEM_PARTITION_LABEL;
        this.set({ partition, ready: 'true' }, d.ready);
        this.set({ partition, ready: 'false' }, d.queued - d.ready);
      }
    },
  });
  new Gauge({
    name: `${p}queue_partition_oldest_job_age_seconds`,
    help: 'Age of the oldest queued job per partition (*system* for system jobs; the 20 deepest, the rest as *other*)',
    labelNames: ['partition'] as const,
    registers: [registry],
    async collect() {
      const s = await readStats();
      if (!s) return;
      this.reset();
      for (const d of s.partitions ?? [])
        this.set({ partition: d.partition || SYSTEM_PARTITION_LABEL }, d.oldestQueuedAgeMs / 1000);
    },
  });
  const jobOutcomes = new Counter({
    name: `${p}job_outcomes_total`,
    help: 'Job attempts finished, by job kind and outcome (done, retry, dead, lost)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: `${p}job_duration_seconds`,
    help: 'Job attempt duration, by job kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const jiraCalls = new Counter({
    name: `${p}jira_requests_total`,
    help: 'Calls to Jira, by endpoint template, method and status',
    labelNames: ['endpoint', 'method', 'status'] as const,
    registers: [registry],
  });
  const jiraDuration = new Histogram({
    name: `${p}jira_request_duration_seconds`,
    help: 'Duration of calls to Jira, by endpoint template and method',
    labelNames: ['endpoint', 'method'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  // Per connection: calls and 429s since start, the top 20 and '*other*' (bounded labels). A
  // connection's entry goes when it is deleted (forgetConnection), so customers who come and go
  // do not grow the map.
  const perConnection = new Map<string, ConnectionCalls>();
  new Gauge({
    name: `${p}connection_jira_requests`,
    help: 'Calls to Jira per connection since start (the 20 busiest connections, the rest as *other*)',
    labelNames: ['connection'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of topConnections([...perConnection.values()])) this.set({ connection: c.connection }, c.calls);
    },
  });
  new Gauge({
    name: `${p}connection_jira_rate_limited`,
    help: 'Calls to Jira answered 429 per connection since start (the 20 connections with the most 429s, the rest as *other*)',
    labelNames: ['connection'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of topConnections([...perConnection.values()], TOP_CONNECTIONS, 'r429'))
        this.set({ connection: c.connection }, c.r429);
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    httpRequests,
    httpDuration,
    queueDepth,
    queueOldestAge,
    jobOutcomes,
    jobDuration,
    jiraCalls,
    jiraDuration,
    setQueueStatsSource(fn) {
      queueStats = fn;
    },
    recordHttp(method, route, status, durationMs) {
      const labels = { method, route, status: String(status) };
      httpRequests.inc(labels);
      httpDuration.observe(labels, durationMs / 1000);
    },
    recordJobOutcome(kind, outcome, durationMs) {
      jobOutcomes.inc({ kind, outcome });
      if (durationMs !== undefined) jobDuration.observe({ kind, outcome }, durationMs / 1000);
    },
    recordJiraCall(s) {
      const method = s.method.toUpperCase();
      jiraCalls.inc({ endpoint: s.endpoint, method, status: String(s.status) });
      if (s.durationMs !== undefined) jiraDuration.observe({ endpoint: s.endpoint, method }, s.durationMs / 1000);
      if (s.connection !== undefined) {
        const c = perConnection.get(s.connection) ?? { connection: s.connection, calls: 0, r429: 0 };
        c.calls += 1;
        if (s.status === 429) c.r429 += 1;
        perConnection.set(s.connection, c);
      }
    },
    connectionCalls: () => [...perConnection.values()].map((c) => ({ ...c })),
    forgetConnection(connection) {
      perConnection.delete(connection);
    },
    render() {
      return registry.metrics();
    },
  };
}

const VERSIONED = new Set(['api', 'agile', 'auth', 'webhooks', 'greenhopper']);

/**
 * Turns a Jira request path into a low-cardinality label: query dropped, numeric ids, issue keys
 * (`ABC-123`) and opaque ids (account ids, UUIDs) replaced by `{id}` / `{key}`.
 * `/rest/api/3/issue/SEC-42/transitions?expand=x` → `/rest/api/3/issue/{key}/transitions`.
 */
export function jiraEndpointLabel(pathOrUrl: string): string {
  let path = pathOrUrl;
  try {
    if (/^https?:\/\//i.test(path)) path = new URL(path).pathname;
  } catch {
    /* keep as given */
  }
  path = path.split('?')[0]!.split('#')[0]!;
  return (
    path
      .split('/')
      .map((seg, i, all) => {
        if (seg === '') return seg;
        // `/rest/api/3`, `/rest/agile/1.0`: the API version is part of the endpoint.
        if (i > 0 && VERSIONED.has(all[i - 1]!) && /^\d+(\.\d+)?$/.test(seg)) return seg;
        if (/^\d+$/.test(seg)) return '{id}';
        if (/^[A-Z][A-Z0-9_]+-\d+$/.test(seg)) return '{key}';
        if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg)) return '{id}';
        if (/^[0-9a-f:]{20,}$/i.test(seg) || /^\d+:[0-9a-f-]{20,}$/i.test(seg)) return '{id}';
        return seg;
      })
      .join('/') || '/'
  );
}

/**
 * An `onCall` callback for the Jira client (`createJiraClient(conn, { onCall })`): counts every
 * call by route template, method and status. Status 0 (no response) is counted as `network`.
 */
export function jiraCallRecorder(
  metrics: Pick<Metrics, 'recordJiraCall'>,
  connection?: string,
): (e: { method: string; route: string; status: number; durationMs: number }) => void {
  return (e) =>
    metrics.recordJiraCall({
      endpoint: jiraEndpointLabel(e.route),
      method: e.method,
      status: e.status > 0 ? e.status : 'network',
      durationMs: e.durationMs,
      ...(connection !== undefined ? { connection } : {}),
    });
}
