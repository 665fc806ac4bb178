import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, encodeCursor, readChanges } from '../../host/feed.js';
import { fromJson } from '../../store/json.js';
import type { Store } from '../../store/index.js';
import { ChangeDataSchema, errorResponses } from '../schemas.js';
import { READ, READ_OR_HOST } from '../auth.js';

export interface ChangesRouteOptions {
  store: Store;
}

const ChangeSchema = z.object({
  seq: z.number().int(),
  record_id: z.string(),
  scope: z.string().nullable(),
  host_id: z.string().nullable(),
  kind: z.string().nullable(),
  event: z
    .string()
    .describe(
      'record.created | record.linked | record.updated | record.comments | record.moved | record.unlinked | record.sync_failed | record.sync_recovered …',
    ),
  data: ChangeDataSchema,
  at: z.string(),
});

/**
 * `GET /api/v1/changes`: the change feed a host polls (no gaps, no repeats: pass back
 * `next_cursor`), and `GET /api/v1/host-webhooks/deliveries`: attempts of the signed webhooks.
 */
export function changesRoutes(opts: ChangesRouteOptions): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/api/v1/changes',
      {
        config: READ_OR_HOST,
        schema: {
          tags: ['changes'],
          summary: 'Record changes in order; poll with the previous next_cursor (no gaps, no repeats)',
          querystring: z.strictObject({
            after: z.string().optional().describe('next_cursor of the previous page; omit to start at the beginning'),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
            scope: z.string().optional(),
          }),
          response: {
            200: z.object({ changes: z.array(ChangeSchema), next_cursor: z.string() }),
            ...errorResponses(400),
          },
        },
      },
      async (req) => {
        const after = decodeCursor(req.query.after);
        const page = await readChanges(opts.store.db, { after, limit: req.query.limit, scope: req.query.scope });
        return {
          // Every event's data is an object (origin, what changed, jira_user …); see ChangeData.
          changes: page.changes.map((c) => ({ ...c, data: (c.data ?? {}) as z.infer<typeof ChangeDataSchema> })),
          next_cursor: encodeCursor(page.last),
        };
      },
    );
    app.get(
      '/api/v1/host-webhooks/deliveries',
      {
        config: READ,
        schema: {
          tags: ['changes'],
          summary: 'Signed webhooks sent to the host: each event, attempts, last answer (newest first)',
          querystring: z.strictObject({
            status: z.enum(['pending', 'delivered']).optional(),
            subscription: z.string().min(1).max(200).optional().describe('only this subscription’s (its id)'),
            limit: z.coerce.number().int().min(1).max(500).default(100),
          }),
          response: {
            200: z.object({
              deliveries: z.array(
                z.object({
                  id: z.string().describe('the webhook-id header (stable across retries)'),
                  subscription: z.string(),
                  event: z.string(),
                  status: z.string(),
                  attempts: z.number().int(),
                  response_status: z.number().int().nullable(),
                  last_error: z.unknown(),
                  created_at: z.string(),
                  delivered_at: z.string().nullable(),
                }),
              ),
            }),
            ...errorResponses(400),
          },
        },
      },
      async (req) => {
        let q = opts.store.db
          .selectFrom('outbound_webhook_deliveries')
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(req.query.limit);
        if (req.query.status) q = q.where('status', '=', req.query.status);
        if (req.query.subscription) q = q.where('webhook_id', '=', req.query.subscription);
        const rows = await q.execute();
        return {
          deliveries: rows.map((r) => ({
            id: r.id,
            subscription: r.webhook_id,
            event: r.event,
            status: r.status,
            attempts: r.attempts,
            response_status: r.response_status,
            last_error: fromJson(r.last_error),
            created_at: new Date(Number(r.created_at)).toISOString(),
            delivered_at: r.delivered_at === null ? null : new Date(Number(r.delivered_at)).toISOString(),
          })),
        };
      },
    );
  };
}
