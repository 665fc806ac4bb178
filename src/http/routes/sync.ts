import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { scopeDecision } from '../../core/access.js';
import { AppError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import { errorResponses } from '../schemas.js';
import { RecordSchema } from './records.js';
import { OPERATE_OR_HOST_IN_HANDLER } from '../auth.js';

export const SyncRequestSchema = z
  .union(
    [
      z.strictObject({
        jira_issue_key: z.string().regex(/^[A-Z][A-Z0-9_]*-\d+$/, 'a Jira issue key such as OPS-1234'),
        connection: z
          .string()
          .min(1)
          .max(200)
          .optional()
          .describe('The connection the key is of; needed only when several connections map its project'),
      }),
      z.strictObject({ scope: z.string().min(1).max(200), host_id: z.string().min(1).max(200) }),
    ],
    { error: 'send {"jira_issue_key"} (optionally with "connection") or {"scope","host_id"}' },
  )
  .meta({ id: 'SyncRequest' });

export const SyncAnswerSchema = RecordSchema.extend({
  manual_sync: z
    .object({
      mode: z
        .enum(['two_way', 'outbound', 'imported'])
        .describe(
          "two_way: one job reads the linked issue once, applies Jira's changes to the record, then sends the record's; outbound: the record has no issue yet (or was unlinked), its sync creates one; imported: an issue no record was linked to, made a record now",
        ),
      job_id: z
        .number()
        .int()
        .nullable()
        .describe('The queued job (GET /api/v1/jobs/{id}); null when done in the request'),
      job_kind: z.string().nullable(),
      job_key: z.string().nullable().describe('The per-record queue key the job runs under'),
      runs: z.string().describe('What will run (or ran), in words'),
      jira_calls: z
        .number()
        .int()
        .describe('Jira calls the request itself spent (an import reads the issue); 0 when queued'),
    })
    .describe("What the manual sync queued or did; follow it in the record's log (GET …/records/{scope}/{hostId}/log)"),
}).meta({ id: 'SyncAnswer' });

export interface SyncRouteOptions {
  engine: Pick<Engine, 'manualSync'>;
}

/** `POST /api/v1/sync`: sync one record now, both ways, by Jira issue key or by the host's reference. */
export const syncPlugin: FastifyPluginAsync<SyncRouteOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/api/v1/sync',
    {
      config: OPERATE_OR_HOST_IN_HANDLER,
      schema: {
        tags: ['sync'],
        summary: 'Sync one record now, both ways (manual sync); import an issue a mapping takes',
        description:
          'Takes `{ "jira_issue_key": "OPS-1234" }` (with `"connection"` when several connections map the project) or ' +
          '`{ "scope": "…", "host_id": "…" }`. A linked record: one job (202) reads its issue once, applies Jira\'s ' +
          'changes to the record by the mapping (three-way per field, so a change whose webhook was lost comes back), ' +
          "then sends the record's changes, adopting the current mapping; also retries a failed record. A record " +
          'without an issue: its sync creates one (202). An issue key no record is linked to: when a mapping of its ' +
          'project has `on_jira_create: create_record` and takes the issue (issue type, not done, `filter`), it is ' +
          'imported now (201: one read, one search for a filtered mapping); else 404 (no mapping would take issues of ' +
          'the project) or 409 (a mapping would, but not this issue: its type, status, filter, or a pause), saying ' +
          "why. Host tokens may call it within their scopes (the record's, or the importing mapping's).",
        body: SyncRequestSchema,
        response: { 201: SyncAnswerSchema, 202: SyncAnswerSchema, ...errorResponses(400, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const principal = req.principal;
      const check = (scope: string): void => {
        const d = scopeDecision(principal, scope);
        if (!d.ok)
          throw new AppError(
            'FORBIDDEN',
            `Token "${principal?.name ?? ''}" (${principal?.role ?? ''}) may not POST /api/v1/sync: ${d.reason}`,
          );
      };
      const answer = await opts.engine.manualSync.sync(
        'jira_issue_key' in b
          ? { jiraIssueKey: b.jira_issue_key, ...(b.connection !== undefined ? { connection: b.connection } : {}) }
          : { scope: b.scope, hostId: b.host_id },
        check,
      );
      return reply.code(answer.manual_sync.mode === 'imported' ? 201 : 202).send({
        ...answer.record,
        manual_sync: answer.manual_sync,
      });
    },
  );
};

export function syncRoutes(opts: SyncRouteOptions): FastifyPluginAsync {
  return async (app) => {
    await app.register(syncPlugin, opts);
  };
}
