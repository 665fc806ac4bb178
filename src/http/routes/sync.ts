import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import { errorResponses } from '../schemas.js';
import { RecordSchema } from './records.js';
import { OPERATE } from '../auth.js';

export const SyncRequestSchema = z
  .union(
    [
      z.strictObject({
        jira_issue_key: z.string().regex(/^[A-Z][A-Z0-9_]*-\d+$/, 'a Jira issue key such as OPS-1234'),
      }),
      z.strictObject({ scope: z.string().min(1).max(200), host_id: z.string().min(1).max(200) }),
    ],
    { error: 'send {"jira_issue_key"} or {"scope","host_id"}' },
  )
  .meta({ id: 'SyncRequest' });

export interface SyncRouteOptions {
  engine: Pick<Engine, 'records'>;
}

/** `POST /api/v1/sync`: re-sync one record now, by Jira issue key or by the host's reference. */
export const syncPlugin: FastifyPluginAsync<SyncRouteOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/api/v1/sync',
    {
      config: OPERATE,
      schema: {
        tags: ['sync'],
        summary: 'Re-sync one record now (manual sync)',
        description:
          'Takes `{ "jira_issue_key": "OPS-1234" }` or `{ "scope": "…", "host_id": "…" }`. Queues the sync at once, ' +
          'adopting the current mapping, and returns the record (sync state `pending`). Also retries a failed record.',
        body: SyncRequestSchema,
        response: { 202: RecordSchema, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const record = await opts.engine.records.requestSync(
        'jira_issue_key' in b ? { jiraIssueKey: b.jira_issue_key } : { scope: b.scope, hostId: b.host_id },
      );
      return reply.code(202).send(record);
    },
  );
};

export function syncRoutes(opts: SyncRouteOptions): FastifyPluginAsync {
  return async (app) => {
    await app.register(syncPlugin, opts);
  };
}
