import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { StatsSnapshot } from '../../app/stats.js';
import { READ } from '../auth.js';

/** What the stats route needs: the recorder's snapshot, and a fresh queue sample first. */
export interface StatsApi {
  snapshot(opts: { windowMinutes: number; stepSeconds: number }): StatsSnapshot;
  sample?(): Promise<void>;
}

const count = z.number().int();
const ms = z.number().nullable();

const PointSchema = z.object({
  t: z.string().describe('Start of the step (ISO 8601)'),
  sync_to_jira: count.describe('Sync jobs done towards Jira'),
  sync_from_jira: count.describe('Sync jobs done from Jira'),
  job_retries: count.describe('Job attempts that failed and will retry'),
  job_failures: count.describe('Jobs that gave up (dead)'),
  latency_p50_ms: ms,
  latency_p99_ms: ms,
  jira_calls: count,
  jira_429: count.describe('Jira calls answered 429 (rate limited)'),
  jira_errors: count.describe('Jira calls answered 5xx, or with no answer'),
  queue_queued: count.nullable(),
  queue_running: count.nullable(),
  queue_dead: count.nullable(),
});

const SnapshotSchema = z
  .object({
    now: z.string(),
    step_seconds: z.number().int(),
    window_minutes: z.number().int(),
    points: z.array(PointSchema),
    totals: z.object({
      sync_to_jira: count,
      sync_from_jira: count,
      job_failures: count,
      jira_calls: count,
      jira_429: count,
      latency_p50_ms: ms,
      latency_p99_ms: ms,
    }),
    since: z.string().describe('When this process started counting (the series are per process, in memory)'),
  })
  .meta({ id: 'Stats' });

/**
 * `GET /api/v1/stats`: the dashboard's time series from this process's own measurements (sync
 * volume by direction, job latency p50/p99, failures, Jira calls and 429s, queue depth), over
 * the last `minutes` (1–60) in steps of `step` seconds (10–600, a multiple of 10).
 */
export function statsRoutes(opts: { stats: StatsApi }): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/api/v1/stats',
      {
        config: READ,
        schema: {
          tags: ['system'],
          summary: 'Dashboard time series: sync volume, job latency, failures, Jira calls, queue depth',
          querystring: z.object({
            minutes: z.coerce.number().int().min(1).max(60).default(30),
            step: z.coerce
              .number()
              .int()
              .min(10)
              .max(600)
              .refine((v) => v % 10 === 0, 'must be a multiple of 10 seconds')
              .default(60),
          }),
          response: { 200: SnapshotSchema },
        },
      },
      async (req) => {
        await opts.stats.sample?.();
        return opts.stats.snapshot({ windowMinutes: req.query.minutes, stepSeconds: req.query.step });
      },
    );
  };
}
