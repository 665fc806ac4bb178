import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { Queue } from '../../queue/queue.js';
import type { Job } from '../../queue/types.js';
import { errorResponses } from '../schemas.js';
import { OPERATE, READ } from '../auth.js';

/** The part of the queue this group needs (a narrow seam: easy to fake, easy to audit). */
export type JobsApi = Pick<Queue, 'listJobs' | 'getJob' | 'retry' | 'retryAllDead' | 'stats'>;

const JOB_STATES = ['queued', 'running', 'done', 'dead'] as const;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const JobSchema = z
  .object({
    id: z.number().int(),
    kind: z.string(),
    key: z.string().describe('Ordering key: jobs of one key run one at a time, in order'),
    state: z.enum(JOB_STATES),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    run_at: z.string().describe('Earliest next run (ISO 8601)'),
    coalesced: z.number().int().describe('Later enqueues merged into this job'),
    last_error: z
      .object({
        code: z.string(),
        message: z.string(),
        retryable: z.boolean(),
        attempt: z.number().int(),
        at: z.string(),
      })
      .nullable(),
    payload: z.unknown(),
    created_at: z.string(),
    updated_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'Job' });

export type JobView = z.infer<typeof JobSchema>;

export function jobView(j: Job): JobView {
  return {
    id: j.id,
    kind: j.kind,
    key: j.key,
    state: j.state,
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    run_at: iso(j.runAt)!,
    coalesced: j.coalesced,
    last_error: j.lastError ? { ...j.lastError, at: iso(j.lastError.at)! } : null,
    payload: j.payload,
    created_at: iso(j.createdAt)!,
    updated_at: iso(j.updatedAt)!,
    started_at: iso(j.startedAt),
    finished_at: iso(j.finishedAt),
  };
}

const JobIdParams = z.strictObject({ id: z.coerce.number().int().positive().describe('Job id') });

/** `/api/v1/jobs`: list by state, inspect, retry one dead job, retry every dead job. */
export function jobsRoutes(deps: { queue: JobsApi }): FastifyPluginAsync {
  const { queue } = deps;
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();

    app.get(
      '/api/v1/jobs',
      {
        config: READ,
        schema: {
          tags: ['jobs'],
          summary: 'List jobs, newest first',
          querystring: z.strictObject({
            state: z.enum(JOB_STATES).optional(),
            kind: z.string().min(1).optional(),
            key: z.string().min(1).optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
            before_id: z.coerce.number().int().positive().optional().describe('Page: jobs with a smaller id'),
          }),
          response: {
            200: z.object({
              jobs: z.array(JobSchema),
              next_before_id: z.number().int().nullable().describe('Pass as before_id for the next page'),
            }),
            ...errorResponses(400),
          },
        },
      },
      async (req) => {
        const q = req.query;
        const jobs = await queue.listJobs({
          limit: q.limit,
          ...(q.state ? { state: q.state } : {}),
          ...(q.kind ? { kind: q.kind } : {}),
          ...(q.key ? { key: q.key } : {}),
          ...(q.before_id !== undefined ? { beforeId: q.before_id } : {}),
        });
        const last = jobs.at(-1);
        return { jobs: jobs.map(jobView), next_before_id: jobs.length === q.limit && last ? last.id : null };
      },
    );

    app.get(
      '/api/v1/jobs/stats',
      {
        config: READ,
        schema: {
          tags: ['jobs'],
          summary: 'Queue depth by state and age of the oldest queued job',
          response: {
            200: z.object({
              by_state: z.record(z.string(), z.number().int()),
              oldest_queued_age_ms: z.number().nullable(),
              ready: z.number().int(),
            }),
          },
        },
      },
      async () => {
        const s = await queue.stats();
        return { by_state: s.byState, oldest_queued_age_ms: s.oldestQueuedAgeMs, ready: s.ready };
      },
    );

    app.get(
      '/api/v1/jobs/:id',
      {
        config: READ,
        schema: {
          tags: ['jobs'],
          summary: 'One job, with its last error',
          params: JobIdParams,
          response: { 200: JobSchema, ...errorResponses(400, 404) },
        },
      },
      async (req) => {
        const job = await queue.getJob(req.params.id);
        if (!job) throw new AppError('NOT_FOUND', `No job with id ${req.params.id}`);
        return jobView(job);
      },
    );

    app.post(
      '/api/v1/jobs/:id/retry',
      {
        config: OPERATE,
        schema: {
          tags: ['jobs'],
          summary: 'Put one dead job back in the queue with fresh attempts',
          params: JobIdParams,
          response: { 200: JobSchema, ...errorResponses(400, 404, 409) },
        },
      },
      async (req) => {
        const { id } = req.params;
        const ok = await queue.retry(id);
        const job = await queue.getJob(id);
        if (!job) throw new AppError('NOT_FOUND', `No job with id ${id}`);
        if (!ok) {
          throw new AppError('CONFLICT', `Job ${id} is ${job.state}, not dead; only dead jobs can be retried`, {
            details: { state: job.state },
          });
        }
        return jobView(job);
      },
    );

    app.post(
      '/api/v1/jobs/retry-dead',
      {
        config: OPERATE,
        schema: {
          tags: ['jobs'],
          summary: 'Put every dead job back in the queue',
          response: { 200: z.object({ retried: z.number().int() }) },
        },
      },
      async () => ({ retried: await queue.retryAllDead() }),
    );
  };
}
