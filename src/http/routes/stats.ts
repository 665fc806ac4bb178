import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { StatsSnapshot } from '../../app/stats.js';
import { READ } from '../auth.js';

/** What the stats route needs: the recorder's snapshot, and a fresh queue sample first. */
export interface StatsApi {
  snapshot(opts: { windowMinutes: number; stepSeconds: number }): StatsSnapshot;
  sample?(): Promise<void>;
  /** Per connection: queue depth and oldest age now, Jira calls and 429s since start; busiest first, at most `limit`. */
  connections?(limit: number): Promise<{ total: number; connections: ConnectionFigures[] }>;
}

export interface ConnectionFigures {
  id: string;
  queued: number;
  ready: number;
  oldest_queued_age_seconds: number;
  jira_calls: number;
  jira_429: number;
}

const count = z.number().int();
const ms = z.number().nullable();

const ConnectionFiguresSchema = z.object({
  id: z.string(),
  queued: count.describe('Jobs queued for it now'),
  ready: count.describe('Of them, due now'),
  oldest_queued_age_seconds: z.number().describe('Age of its oldest queued job (0 when none)'),
  jira_calls: count.describe('Calls to its Jira since this process started'),
  jira_429: count.describe('Of them, answered 429'),
});

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
    connections: z
      .array(ConnectionFiguresSchema)
      .optional()
      .describe('Per connection, busiest first (queued, then Jira calls): at most `connections` of them'),
    connections_total: count.optional().describe('How many connections there are'),
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
            connections: z.coerce
              .number()
              .int()
              .min(0)
              .max(1000)
              .default(20)
              .describe('How many connections’ figures to include, busiest first (0: none)'),
          }),
          response: { 200: SnapshotSchema },
        },
      },
      async (req) => {
        await opts.stats.sample?.();
        const snap = opts.stats.snapshot({ windowMinutes: req.query.minutes, stepSeconds: req.query.step });
        if (!opts.stats.connections || req.query.connections === 0) return snap;
        const per = await opts.stats.connections(req.query.connections);
        return { ...snap, connections: per.connections, connections_total: per.total };
      },
    );
  };
}
