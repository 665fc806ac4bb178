import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import { errorResponses } from '../schemas.js';
import { OPERATE, READ } from '../auth.js';

export const BackfillSchema = z
  .object({
    id: z.string(),
    scope: z.string(),
    mapping_id: z.string(),
    state: z.enum(['queued', 'running', 'done', 'failed']),
    total: z.number().int().describe('Unlinked records found when the backfill started'),
    done: z.number().int().describe('Records created (or adopted) in Jira so far'),
    failed: z.number().int(),
    bulk_calls: z.number().int().describe('Bulk create calls spent (50 issues each at most)'),
    jira_calls: z.number().int(),
    errors: z.array(z.object({ host_id: z.string(), message: z.string() })),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Backfill' });

export interface BackfillRouteOptions {
  engine: Pick<Engine, 'backfill'>;
}

/** `/api/v1/backfill`: push every unlinked record of a mapping with bulk create; poll progress. */
export const backfillPlugin: FastifyPluginAsync<BackfillRouteOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/api/v1/backfill',
    {
      config: OPERATE,
      schema: {
        tags: ['sync'],
        summary: 'Start a backfill of every unlinked record of the mapping covering a scope',
        body: z.strictObject({ scope: z.string().min(1).describe('Host scope whose mapping is backfilled') }),
        response: { 202: BackfillSchema, ...errorResponses(400, 409, 422) },
      },
    },
    async (req, reply) => reply.code(202).send(await opts.engine.backfill.start({ scope: req.body.scope })),
  );

  app.get(
    '/api/v1/backfill/:id',
    {
      config: READ,
      schema: {
        tags: ['sync'],
        summary: 'Progress of a backfill (done/total)',
        params: z.strictObject({ id: z.string().min(1) }),
        response: { 200: BackfillSchema, ...errorResponses(404) },
      },
    },
    async (req) => {
      const p = await opts.engine.backfill.get(req.params.id);
      if (!p) throw new AppError('NOT_FOUND', `No backfill with id ${req.params.id}`);
      return p;
    },
  );
};

export function backfillRoutes(opts: BackfillRouteOptions): FastifyPluginAsync {
  return async (app) => {
    await app.register(backfillPlugin, opts);
  };
}
