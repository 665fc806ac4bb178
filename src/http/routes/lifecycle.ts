import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import type { PauseKind } from '../../engine/pause.js';
import { actorOf, ADMIN, ADMIN_OR_HOST, READ } from '../auth.js';
import { errorResponses } from '../schemas.js';

const PauseStateSchema = z
  .object({
    kind: z.enum(['connection', 'mapping']),
    id: z.string(),
    enabled: z.boolean().describe('Whether work flows: its configuration enables it and the API has not paused it'),
    configured: z.boolean().describe('What its configuration says (`enabled` in the file or the API body)'),
    paused: z.boolean().describe('Paused through POST …/pause'),
    since: z.string().nullable().describe('When it stopped flowing (ISO 8601); null while enabled'),
  })
  .meta({ id: 'PauseState' });

const UnlinkResultSchema = z
  .object({
    unlinked: z.number().int().describe('Records whose link was removed'),
    issue_keys: z.array(z.string()).describe('Their Jira issues (left as they are; the first 100)'),
  })
  .meta({ id: 'UnlinkResult' });

const idParams = z.object({ id: z.string().min(1).max(200) });

/**
 * Living with an integration: pause and resume a connection or a mapping (nothing flows either
 * way while it is disabled; resuming reconciles what changed meanwhile), and remove links (of a
 * record, a mapping's records, a connection's) leaving the Jira issues as they are. All admin,
 * all audited; the states are readable by any reader.
 */
export function lifecycleRoutes(opts: { engine: Pick<Engine, 'pauses' | 'unlinker'> }): FastifyPluginAsync {
  const { pauses, unlinker } = opts.engine;
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    const stateOf = async (kind: PauseKind, id: string) => ({ kind, id, ...(await pauses.state({ kind, id })) });

    app.get(
      '/api/v1/pauses',
      {
        config: READ,
        schema: {
          tags: ['sync'],
          summary: 'Whether each connection and mapping in force flows or is paused (and since when)',
          response: { 200: z.object({ pauses: z.array(PauseStateSchema) }) },
        },
      },
      async () => ({ pauses: await Promise.all(pauses.targets().map((t) => stateOf(t.kind, t.id))) }),
    );

    for (const kind of ['connection', 'mapping'] as const) {
      const base = `/api/v1/${kind}s/:id`;
      const what = kind === 'connection' ? 'a connection (every mapping on it)' : 'a mapping';
      app.post(
        `${base}/pause`,
        {
          config: ADMIN,
          schema: {
            tags: [`${kind}s`],
            summary: `Pause ${what}: nothing flows either way until it is resumed`,
            description:
              'Host changes are stored and wait (records stay `pending`), Jira deliveries are acknowledged with the ' +
              'verdict `ignored:disabled`, the sweep leaves it out. Idempotent; audited as `' +
              kind +
              '.paused`. Works for the file’s entries too (the pause is kept in the store).',
            params: idParams,
            response: { 200: PauseStateSchema, ...errorResponses(404) },
          },
        },
        async (req) => {
          await pauses.pause({ kind, id: req.params.id }, actorOf(req));
          return stateOf(kind, req.params.id);
        },
      );
      app.post(
        `${base}/resume`,
        {
          config: ADMIN,
          schema: {
            tags: [`${kind}s`],
            summary: `Resume ${what} and reconcile what changed while it was paused`,
            description:
              'Queues the sync of the records that waited (host → Jira) and a search of the project for issues ' +
              'updated since the pause (Jira → host), as one durable job. Idempotent; audited as `' +
              kind +
              '.resumed`. 409 when its configuration says `enabled: false` (change it there).',
            params: idParams,
            response: { 200: PauseStateSchema, ...errorResponses(404, 409) },
          },
        },
        async (req) => {
          await pauses.resume({ kind, id: req.params.id }, actorOf(req));
          return stateOf(kind, req.params.id);
        },
      );
      app.post(
        `${base}/unlink`,
        {
          config: ADMIN,
          schema: {
            tags: [`${kind}s`],
            summary: `Remove the links of ${what}'s records; the Jira issues stay as they are`,
            description:
              'Each record stays, unlinked (its issue key kept in its link for history): its bases and queued jobs go, ' +
              'later host changes are not sent (no issue is created again) until POST /api/v1/sync re-syncs it. ' +
              'The change feed gets `record.unlinked` (reason `removed`); audited as `' +
              kind +
              '.unlinked`.',
            params: idParams,
            response: { 200: UnlinkResultSchema, ...errorResponses(404) },
          },
        },
        async (req) => {
          const r = await unlinker.unlink({ kind, id: req.params.id }, actorOf(req));
          return { unlinked: r.unlinked, issue_keys: r.issue_keys.slice(0, 100) };
        },
      );
    }

    app.delete(
      '/api/v1/records/:scope/:hostId/link',
      {
        config: ADMIN_OR_HOST,
        schema: {
          tags: ['records'],
          summary: 'Unlink a record from its Jira issue; the issue stays as it is',
          description:
            'The record stays, unlinked: later upserts are stored and not sent (no issue is created again) until ' +
            'POST /api/v1/sync re-syncs it, which creates a new issue. 409 when it is not linked. Audited as `record.unlinked`.',
          params: z.object({ scope: z.string().min(1).max(200), hostId: z.string().min(1).max(200) }),
          response: { 200: UnlinkResultSchema, ...errorResponses(404, 409) },
        },
      },
      async (req) =>
        unlinker.unlink({ kind: 'record', scope: req.params.scope, hostId: req.params.hostId }, actorOf(req)),
    );
  };
}
