/**
 * Feeds the dashboard's recorder (./stats.ts) from what the service already measures: the
 * Metrics object every part reports to is wrapped so job outcomes and Jira calls also land in the
 * recorder, and the queue depth is sampled on a slow timer (one grouped count query).
 *
 *   const stats = createStatsRecorder();
 *   const metrics = tapMetrics(createMetrics(...), stats);
 *   const sampler = startQueueSampler(() => queue.stats(), stats);  // sampler.stop() on shutdown
 */
import type { Metrics } from '../metrics/metrics.js';
import type { QueueStats } from '../queue/types.js';
import type { StatsRecorder } from './stats.js';

/** The same Metrics, also telling the recorder about job outcomes and Jira calls. */
export function tapMetrics(metrics: Metrics, rec: StatsRecorder): Metrics {
  return {
    ...metrics,
    setQueueStatsSource: (fn) => metrics.setQueueStatsSource(fn),
    recordHttp: (method, route, status, ms) => metrics.recordHttp(method, route, status, ms),
    render: () => metrics.render(),
    connectionCalls: () => metrics.connectionCalls(),
    forgetConnection: (connection) => metrics.forgetConnection(connection),
    recordJobOutcome(kind, outcome, durationMs) {
      metrics.recordJobOutcome(kind, outcome, durationMs);
      rec.job(kind, outcome, durationMs);
    },
    recordJiraCall(sample) {
      metrics.recordJiraCall(sample);
      rec.jiraCall(sample.status);
    },
  };
}

export interface QueueSampler {
  /** Samples now (the stats route calls it so the last point is current). */
  sample(): Promise<void>;
  stop(): void;
}

/** Samples the queue depth every `intervalMs` (default 10 s; the timer does not hold the process). */
export function startQueueSampler(
  stats: () => Promise<QueueStats>,
  rec: StatsRecorder,
  intervalMs = 10_000,
): QueueSampler {
  const sample = async (): Promise<void> => {
    try {
      rec.queue((await stats()).byState);
    } catch {
      /* the store is closing or unreachable: readiness reports it; skip this sample */
    }
  };
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();
  void sample();
  return { sample, stop: () => clearInterval(timer) };
}
