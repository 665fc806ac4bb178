/** The dashboard's in-memory series (src/app/stats.ts) and the metrics tap that feeds them. */
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, RETENTION_MS, createStatsRecorder, percentile } from '../../src/app/stats.js';
import { tapMetrics } from '../../src/app/stats-wiring.js';
import { createMetrics } from '../../src/metrics/metrics.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('stats recorder', () => {
  it('counts sync volume by direction, failures, Jira calls and 429s per step', () => {
    let now = T0;
    const rec = createStatsRecorder({ now: () => now });
    rec.job('outbound.sync', 'done', 40);
    rec.job('outbound.backfill', 'done', 60);
    rec.job('inbound.issue', 'done', 20);
    rec.job('inbound.issue', 'retry', 5);
    rec.job('outbound.sync', 'dead', 7);
    rec.job('import.legacy', 'done', 1);
    rec.jiraCall(200);
    rec.jiraCall(201);
    rec.jiraCall(429);
    rec.jiraCall(503);
    rec.jiraCall('network');
    rec.queue({ queued: 4, running: 1, dead: 2 });
    now += 65_000; // next minute
    rec.job('outbound.sync', 'done', 100);
    rec.queue({ queued: 0, running: 0, dead: 2 });

    const s = rec.snapshot({ windowMinutes: 5, stepSeconds: 60 });
    expect(s.step_seconds).toBe(60);
    expect(s.points).toHaveLength(5);
    const [a, b] = s.points.slice(-2);
    expect(a).toMatchObject({
      t: new Date(T0).toISOString(),
      sync_to_jira: 2,
      sync_from_jira: 1,
      job_retries: 1,
      job_failures: 1,
      jira_calls: 5,
      jira_429: 1,
      jira_errors: 2,
      queue_queued: 4,
      queue_running: 1,
      queue_dead: 2,
    });
    expect(a!.latency_p50_ms).toBe(7); // of 1, 5, 7, 20, 40, 60 (every attempt, failed ones too)
    expect(a!.latency_p99_ms).toBe(60);
    expect(b).toMatchObject({ sync_to_jira: 1, queue_queued: 0, latency_p50_ms: 100 });
    // Steps with nothing recorded: zero counts, no latency, no depth sample.
    expect(s.points[0]).toMatchObject({ sync_to_jira: 0, latency_p50_ms: null, queue_queued: null });
    expect(s.totals).toMatchObject({ sync_to_jira: 3, sync_from_jira: 1, job_failures: 1, jira_calls: 5, jira_429: 1 });
    expect(s.totals.latency_p99_ms).toBe(100);
  });

  it('10-second steps, a clamped window, and nothing older than the retention', () => {
    let now = T0;
    const rec = createStatsRecorder({ now: () => now });
    rec.job('outbound.sync', 'done', 1);
    now += RETENTION_MS + 5 * BUCKET_MS;
    rec.job('outbound.sync', 'done', 1); // prunes the first bucket
    now += BUCKET_MS;
    rec.job('inbound.issue', 'done', 1);
    const s = rec.snapshot({ windowMinutes: 500, stepSeconds: 10 });
    expect(s.window_minutes).toBe(60);
    expect(s.points).toHaveLength(360);
    expect(s.totals.sync_to_jira).toBe(1);
    expect(s.points.at(-1)).toMatchObject({ sync_from_jira: 1 });
    expect(s.points.at(-2)).toMatchObject({ sync_to_jira: 1 });
  });

  it('keeps a bounded latency sample per bucket', () => {
    const rec = createStatsRecorder({ now: () => T0, random: () => 0.999 });
    for (let i = 1; i <= 5000; i++) rec.job('outbound.sync', 'done', i);
    const p = rec.snapshot({ windowMinutes: 1, stepSeconds: 10 }).points.at(-1)!;
    expect(p.sync_to_jira).toBe(5000);
    // random() near 1 never replaces: the first 200 samples stay.
    expect(p.latency_p99_ms).toBeLessThanOrEqual(200);
  });

  it('percentile uses the nearest rank', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
  });
});

describe('tapMetrics', () => {
  it('feeds the recorder and still counts in Prometheus', async () => {
    const rec = createStatsRecorder();
    const m = tapMetrics(createMetrics({ defaultMetrics: false }), rec);
    m.recordJobOutcome('outbound.sync', 'done', 12);
    m.recordJiraCall({ endpoint: '/rest/api/3/issue', method: 'post', status: 429 });
    const text = await m.render();
    expect(text).toMatch(/jira_bridge_job_outcomes_total\{kind="outbound.sync",outcome="done"\} 1/);
    expect(text).toMatch(
      /jira_bridge_jira_requests_total\{endpoint="\/rest\/api\/3\/issue",method="POST",status="429"\} 1/,
    );
    expect(rec.snapshot({ windowMinutes: 1, stepSeconds: 60 }).totals).toMatchObject({
      sync_to_jira: 1,
      jira_calls: 1,
      jira_429: 1,
    });
  });
});
