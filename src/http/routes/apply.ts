import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import { actorOf, OPERATE, READ } from '../auth.js';
import { errorResponses } from '../schemas.js';

export const ApplyRunSchema = z
  .object({
    id: z.string(),
    mapping_id: z.string(),
    state: z
      .enum(['running', 'done', 'cancelled', 'failed'])
      .describe('`failed`: the mapping was deleted, or paused, during the run (see `error`)'),
    total: z
      .number()
      .int()
      .describe('Linked records of the mapping (counted at the start; grows if more were linked meanwhile)'),
    queued: z.number().int().describe('Records whose re-sync job has been queued so far (a page at a time)'),
    done: z.number().int().describe('Records whose re-sync is over: changed + unchanged + failed'),
    changed: z.number().int().describe('Records whose Jira issue was written to'),
    unchanged: z.number().int().describe('Records whose issue already matched (only its read was spent)'),
    failed: z.number().int().describe('Records whose re-sync failed or was held by a pause (see their log)'),
    jira_calls: z.number().int().describe('Jira calls the re-syncs spent so far'),
    error: z.string().nullable(),
    requested_by: z.string(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    updated_at: z.string(),
  })
  .meta({ id: 'ApplyRun' });

const idParams = z.strictObject({ id: z.string().min(1).max(200) });
const runParams = z.strictObject({ id: z.string().min(1).max(200), runId: z.string().min(1).max(200) });

/**
 * `/api/v1/mappings/{id}/apply`: "apply to linked records" — re-sync every linked record of a
 * mapping, adopting the mapping as it is now, as one durable run with progress (src/engine/apply.ts).
 */
export function applyRoutes(opts: { engine: Pick<Engine, 'apply'> }): FastifyPluginAsync {
  const { apply } = opts.engine;
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/v1/mappings/:id/apply',
      {
        config: OPERATE,
        schema: {
          tags: ['mappings'],
          summary: 'Apply the mapping as it is now to its linked records (a bulk re-sync with progress)',
          description:
            'Linked records keep the mapping they were linked with until re-synced. This queues the re-sync ' +
            '(the job `POST /api/v1/sync` queues for one record: it adopts the current mapping, reads the issue ' +
            'once and writes what differs, the host’s mapped values winning) of every linked record of the ' +
            'mapping, a page at a time, and counts what each did. 202 with the run; follow it at ' +
            '`GET …/apply/{runId}`. 409 when the mapping or its connection is paused, or a run of it is ' +
            'already running. Audited as `mapping.applied`.',
          params: idParams,
          response: { 202: ApplyRunSchema, ...errorResponses(404, 409) },
        },
      },
      async (req, reply) => reply.code(202).send(await apply.start({ mappingId: req.params.id, actor: actorOf(req) })),
    );
    app.get(
      '/api/v1/mappings/:id/apply',
      {
        config: READ,
        schema: {
          tags: ['mappings'],
          summary: 'The mapping’s apply runs, newest first (the last 20)',
          params: idParams,
          response: { 200: z.object({ runs: z.array(ApplyRunSchema) }), ...errorResponses(404) },
        },
      },
      async (req) => ({ runs: await apply.list(req.params.id) }),
    );
    app.get(
      '/api/v1/mappings/:id/apply/:runId',
      {
        config: READ,
        schema: {
          tags: ['mappings'],
          summary: 'Progress of an apply run: done/total, changed, unchanged, failed, Jira calls',
          params: runParams,
          response: { 200: ApplyRunSchema, ...errorResponses(404) },
        },
      },
      async (req) => apply.get(req.params.id, req.params.runId),
    );
    app.post(
      '/api/v1/mappings/:id/apply/:runId/cancel',
      {
        config: OPERATE,
        schema: {
          tags: ['mappings'],
          summary: 'Cancel an apply run: no more records are queued (those queued still run)',
          description: 'Idempotent (a finished run is answered as it is). Audited as `mapping.apply_cancelled`.',
          params: runParams,
          response: { 200: ApplyRunSchema, ...errorResponses(404) },
        },
      },
      async (req) => apply.cancel(req.params.id, req.params.runId, actorOf(req)),
    );
  };
}
